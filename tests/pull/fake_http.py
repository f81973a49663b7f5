"""What the API stand-ins share: a loopback aiohttp server with faults on demand.

`rate_limit` (request numbers answered 429 with `Retry-After`), `cut` (request numbers
whose body stops half way after the headers: a connection dropped mid page), `down`
(every request answered 503), `down_after` (the provider goes away for good once that
many requests were answered). Requests are counted from 1 across every route. With
`authorization` set, a request without that header is answered 401 (`unauthorized`).
A stand-in adds its routes (`routes`) and answers each through `gate` and `answer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

from aiohttp import web


class FakeServer:
    # The Authorization header every request must carry (None: any), and the 401's body.
    authorization: str | None = None
    unauthorized = "authentication failed"

    def __init__(self) -> None:
        self.requests = 0
        self.rate_limit: set[int] = set()
        self.retry_after = "1"
        self.cut: set[int] = set()
        self.down = False
        self.down_after: int | None = None
        self.log: list[str] = []  # path and query of every request, in order
        self._runner: web.AppRunner | None = None
        self.url = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the bound socket here
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def gate(self, request: web.Request) -> web.Response | None:
        """Count the request and answer it with the fault due, if any (else None)."""
        if self.authorization is not None and request.headers.get("Authorization") != self.authorization:
            self.requests += 1
            return web.Response(status=401, text=self.unauthorized)
        if self.down_after is not None and self.requests >= self.down_after:
            self.down = True
        self.requests += 1
        self.log.append(request.path_qs)
        if self.down:
            return web.Response(status=503, text="down")
        if self.requests in self.rate_limit:
            return web.Response(status=429, headers={"Retry-After": self.retry_after}, text="rate limited")
        return None

    async def answer(self, request: web.Request, doc: Any) -> web.StreamResponse:
        body = json.dumps(doc).encode()
        if self.requests in self.cut:
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            resp.content_length = len(body)
            await resp.prepare(request)
            await resp.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.close()
            return resp
        return web.Response(body=body, content_type="application/json")


@contextlib.contextmanager
def served_in_thread(server: FakeServer) -> Iterator[str]:
    """Serve from a thread of its own, for tests that run the CLI (its own event loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-api", daemon=True)
    thread.start()
    try:
        url = asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


S = TypeVar("S", bound=FakeServer)


@contextlib.asynccontextmanager
async def serving(server: S) -> AsyncIterator[S]:
    """The stand-in started on loopback for the block, stopped however the block ends."""
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
