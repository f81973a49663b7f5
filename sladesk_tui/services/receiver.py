"""`sladesk receive`: the webhook receiver (docs/sources.md).

One path per configured source, `POST /hooks/<name>`. Per request, in this order,
each step refusing with a 4xx and a log line, nothing stored:

1. the source exists and receives webhooks (404);
2. the content type is what the provider sends (415);
3. the body arrives whole, within `max_body_bytes` (413) and the body timeout (408:
   a client sending half a body and stalling holds nothing for long);
4. the signature holds over the raw bytes, and a signed timestamp is inside the
   replay window (401);
5. the body parses as the provider's JSON (400) and is an event we read (422).

Then the delivery goes to the writer thread, which stores several deliveries per
transaction (`store.deliveries.store_batch`); the request is answered only once
its batch has committed: 200 stored (or a duplicate of a stored delivery), 409 for a
delivery id reused with another body, 422 for a status, priority or customer the
mapping does not name. A database error answers 503, so the sender retries.

The store's SQLite calls never run on the event loop: one thread owns the write
connection. The log has one line per request (source, delivery, status, reason,
size, time) and never a body or a secret. It binds 127.0.0.1 unless told otherwise;
TLS belongs to the reverse proxy in front of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
import queue
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.mapping import Source, SourceSet
from sladesk_tui.core.sources.payloads import JSON_TYPES, JSONL_TYPES, decode
from sladesk_tui.core.sources.refusals import Refusal
from sladesk_tui.core.sources.signatures import verify
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import open_db
from sladesk_tui.store.deliveries import Outcome, Pending, RefusalNote, record_refusals, store_batch
from sladesk_tui.store.failures import Failure, classify, reason

log = logging.getLogger("sladesk.receive")
RECONNECT_MAX_S = 10.0  # the longest wait between two tries to reopen a lost connection

DEFAULT_BODY_TIMEOUT_S = 10.0
DEFAULT_BATCH = 256
# The role the receiving account must hold, checked at start and in every batch's transaction.
FEED_ROLE = "feed"
SWITCH_INTERVAL_S = 0.0005
MAX_WAITING = 10_000  # deliveries queued for the writer before new ones get 503
STORE_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    batch_max: int = DEFAULT_BATCH


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """A source's secret from its file, refusing a file others could read.

    The file must be a regular file owned by this account with no group or other
    permission bits (mode 0600 or 0400): a secret readable by others is not one.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise InputError(f"secret file: {exc.strerror}", where=str(p)) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError("secret file: not a regular file", where=str(p))
    if st.st_mode & 0o077:
        raise InputError(
            f"secret file: mode {stat.S_IMODE(st.st_mode):04o} lets group or others read it; chmod 600 {p}",
            where=str(p),
        )
    if st.st_uid != os.geteuid():
        raise InputError("secret file: not owned by the account running the receiver", where=str(p))
    try:
        secret = p.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"secret file: {exc.strerror}", where=str(p)) from None
    if len(secret) < 8:
        raise InputError("secret file: the secret is empty or shorter than 8 bytes", where=str(p))
    return secret


class _Writer:
    """The thread that owns the write connection and stores deliveries in batches."""

    def __init__(self, db_path: str, actor: str, batch_max: int) -> None:
        self.db_path, self.actor, self.batch_max = db_path, actor, batch_max
        self.q: queue.SimpleQueue[tuple[Pending, Callable[[Outcome], None]] | RefusalNote | None] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(target=self._run, name="sladesk-receive-writer", daemon=True)
        self._lost: BaseException | None = None  # the failure that lost the connection, until reopened

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.q.put(None)
        self.thread.join(timeout=30)

    def _run(self) -> None:
        try:
            conn = open_db(self.db_path)
        except Exception as exc:  # noqa: BLE001 - reported, and requests then get 503
            log.error("cannot open the database: %s", exc)
            return
        try:
            while True:
                item = self.q.get()
                if item is None:
                    return
                if self._lost is not None:
                    conn = self._reopen(conn)
                items = [item]
                while len(items) < self.batch_max:
                    try:
                        more = self.q.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        self.q.put(None)  # stop after this batch
                        break
                    items.append(more)
                self._store(conn, items)
        finally:
            conn.close()

    def _store(
        self, conn: Connection, items: list[tuple[Pending, Callable[[Outcome], None]] | RefusalNote]
    ) -> None:
        work = [i for i in items if isinstance(i, tuple)]
        notes = [i for i in items if isinstance(i, RefusalNote)]
        try:
            if work:
                outcomes = store_batch(conn, [p for p, _ in work], notes, actor=self.actor, require=FEED_ROLE)
                for (_, done), outcome in zip(work, outcomes, strict=True):
                    done(outcome)
            else:
                record_refusals(conn, notes)
        except Exception as exc:  # noqa: BLE001 - every waiting request must get an answer
            kind = classify(exc)
            if kind is Failure.REFUSED:  # the feed role or a privilege taken away: nothing stored
                log.error("refused: %s", reason(exc))
                for _, done in work:
                    done(Outcome(403, f"the receiver's account may not store events: {reason(exc)}"))
                return
            if kind is Failure.LOST:  # answered 503 (the sender retries); reopened before the next batch
                log.error("lost the database connection (%s); reconnecting", reason(exc))
                self._lost = exc
            else:
                log.error("store error: %s: %s", type(exc).__name__, reason(exc))
            for _, done in work:
                done(Outcome(503, "the database is busy or failing; retry later"))

    def _reopen(self, old: Connection) -> Connection:
        """A new connection after the old one was lost, tried at growing intervals (up to
        `RECONNECT_MAX_S`) while deliveries wait in the queue: none is answered 2xx
        before it is committed, so none is lost."""
        try:
            old.close()
        except Exception:  # noqa: BLE001 - already broken; closing is best effort
            pass
        pause = 0.5
        while True:
            try:
                conn = open_db(self.db_path)
            except Exception as exc:  # noqa: BLE001 - the server may still be restarting
                log.error("cannot reopen the database (%s); trying again in %g s", reason(exc), pause)
                time.sleep(pause)
                pause = min(pause * 2, RECONNECT_MAX_S)
                continue
            log.warning("reconnected to the database")
            self._lost = None
            return conn


class Receiver:
    """The aiohttp application and its writer."""

    def __init__(
        self, db_path: str, sources: SourceSet, secrets: dict[str, bytes], *, actor: str, settings: Settings
    ) -> None:
        self.sources = sources
        self.secrets = secrets
        self.settings = settings
        self.writer = _Writer(db_path, actor, settings.batch_max)
        self.app = web.Application(
            client_max_size=max((s.max_body_bytes for s in sources.sources), default=1)
        )
        self.app.router.add_post("/hooks/{source}", self.hook)
        self.app.router.add_get("/health", self.health)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def hook(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        name = request.match_info["source"]
        source = self.sources.get(name)
        size = 0
        delivery = "-"
        try:
            if source is None or not source.receives or name not in self.secrets:
                raise _Http(404, f"no webhook source {name[:40]!r} here")
            ctype = request.content_type
            allowed = JSON_TYPES | JSONL_TYPES if source.provider == "sladesk" else JSON_TYPES
            if ctype not in allowed:
                raise _Http(415, f"content type {ctype[:60]!r}: send {' or '.join(sorted(allowed))}")
            if request.content_length is not None and request.content_length > source.max_body_bytes:
                raise _Http(413, f"body of {request.content_length} bytes is over {source.max_body_bytes}")
            body = await self._read(request, source)
            size = len(body)
            now = time.time()
            verified = verify(
                source.provider,
                self.secrets[name],
                request.headers,
                body,
                now=now,
                window_s=source.replay_window_s,
            )
            delivery = verified.delivery_id
            decoded = decode(source, body, ctype)
            pending = Pending(source, verified.delivery_id, hashlib.sha256(body).hexdigest(), decoded, now)
            outcome = await self._store(pending)
            status, reason = outcome.status, outcome.reason
        except Refusal as exc:
            status, reason = exc.status, exc.reason
            self._note(source, status, reason)
        except _Http as exc:
            status, reason = exc.status, exc.reason
            self._note(source, status, reason)
        ms = (time.monotonic() - started) * 1000
        log.info(
            "%s %s source=%s delivery=%s status=%d bytes=%d ms=%.1f reason=%s",
            request.remote,
            _clean(request.path, 80),
            _clean(name, 40),
            _clean(delivery, 80),
            status,
            size,
            ms,
            _clean(reason, 300),
        )
        resp = web.json_response({"status": status, "reason": reason}, status=status)
        if status in (408, 413):
            resp.force_close()
        return resp

    async def _read(self, request: web.Request, source: Source) -> bytes:
        """The whole body within the body timeout and the size cap (one deadline for all
        of it: a sender trickling a byte at a time gains nothing)."""
        buf = bytearray()
        try:
            async with asyncio.timeout(self.settings.body_timeout_s):
                while chunk := await request.content.readany():
                    buf += chunk
                    if len(buf) > source.max_body_bytes:
                        raise _Http(413, f"body is over {source.max_body_bytes} bytes")
        except TimeoutError:
            raise _Http(408, f"the body did not arrive within {self.settings.body_timeout_s:g} s") from None
        if request.content_length is not None and len(buf) < request.content_length:
            raise _Http(400, "the body ended before its Content-Length")
        return bytes(buf)

    async def _store(self, pending: Pending) -> Outcome:
        if not self.writer.thread.is_alive():
            return Outcome(503, "the receiver cannot reach its database; retry later")
        if self.writer.q.qsize() > MAX_WAITING:
            return Outcome(503, "too many deliveries waiting for the database; retry later")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Outcome] = loop.create_future()

        def done(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(_settle, fut, outcome)

        self.writer.q.put((pending, done))
        try:
            # Shielded: a sender hanging up does not cancel what may already be committed.
            async with asyncio.timeout(STORE_TIMEOUT_S):
                return await asyncio.shield(fut)
        except TimeoutError:
            return Outcome(503, "the database did not answer in time; retry later (a retry is applied once)")

    def _note(self, source: Source | None, status: int, reason: str) -> None:
        if source is not None:
            self.writer.q.put(RefusalNote(source.name, time.time(), status, reason))

    async def serve(self, ready: Callable[[str, int], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT; `ready(host, port)` once listening."""
        self.writer.start()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, self.settings.port, reuse_address=True)
            await site.start()
            host, port = runner.addresses[0][:2]
            if ready is not None:
                ready(str(host), int(port))
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()
            await asyncio.to_thread(self.writer.stop)


class _Http(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _clean(text: str, limit: int) -> str:
    """Request-supplied text on one log line: a newline or escape in a path must not
    forge a line of its own, nor drive the terminal reading the journal."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def _settle(fut: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not fut.done():
        fut.set_result(outcome)


def run(
    db_path: str, sources: SourceSet, secrets: dict[str, bytes], *, actor: str, settings: Settings
) -> int:
    """Run the receiver in the foreground; prints its address once it listens."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # The event loop and the writer thread share the GIL: with the default 5 ms switch
    # interval a request's socket work waits behind a whole slice of the writer's
    # Python (measured: p99 time to 2xx 66 ms -> see docs/sources.md, "Speed").
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    receiver = Receiver(db_path, sources, secrets, actor=actor, settings=settings)

    def ready(host: str, port: int) -> None:
        names = ", ".join(s.name for s in sources.sources if s.name in secrets) or "none"
        print(
            f"sladesk receive: listening on http://{host}:{port}/hooks/<source> (sources: {names})",
            flush=True,
        )
        if not _loopback(host):
            log.warning(
                "listening on %s in plain HTTP: put a TLS reverse proxy in front (docs/sources.md)", host
            )

    asyncio.run(receiver.serve(ready))
    return 0
