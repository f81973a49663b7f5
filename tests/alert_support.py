"""Real receivers on loopback for the alert tests: an SMTP server (STARTTLS, AUTH) and a
webhook server standing in for Slack, Mattermost and Teams, plus the service as a process.

Both servers run in a thread of their own with their own event loop, so the tests
stay synchronous and the notifier under test is a separate process.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER = "sladesk"
logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation chatter
SMTP_PASSWORD = "s3cret-smtp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received: float  # time.time() when the server took it


@dataclass
class SmtpSink:
    port: int
    cafile: str
    mails: list[Mail] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def wait(self, count: int, timeout: float = 20.0) -> list[Mail]:
        end = time.monotonic() + timeout
        while len(self.mails) < count and time.monotonic() < end:
            time.sleep(0.02)
        return list(self.mails)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        msg = email.message_from_bytes(envelope.content, _class=EmailMessage, policy=email.policy.default)
        self.sink.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), msg, time.time()))
        return "250 OK"


@contextmanager
def smtp_server(tmp: Path) -> Iterator[SmtpSink]:
    """A real SMTP server on 127.0.0.1 that requires STARTTLS and AUTH LOGIN/PLAIN."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cafile = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    sink = SmtpSink(port=free_port(), cafile=str(cafile))

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        if ok:
            sink.logins.append(data.login.decode())
        return AuthResult(success=ok)

    controller = Controller(
        _Handler(sink),
        hostname="127.0.0.1",
        port=sink.port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any
    received: float


@dataclass
class WebhookSink:
    port: int
    posts: list[Post] = field(default_factory=list)
    # path -> statuses to answer in turn (the last one repeats); 200 when absent
    script: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, count: int, timeout: float = 20.0) -> list[Post]:
        end = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < end:
            time.sleep(0.02)
        return list(self.posts)


@contextmanager
def webhook_server() -> Iterator[WebhookSink]:
    """An aiohttp server on 127.0.0.1 recording every POST (any path)."""
    sink = WebhookSink(port=free_port())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner_box: dict[str, web.AppRunner] = {}

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        sink.posts.append(Post(request.path, dict(request.headers), body, time.time()))
        statuses = sink.script.get(request.path)
        status = 200
        if statuses:
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        return web.Response(status=status, text="ok" if status < 300 else "no")

    async def start() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", sink.port).start()
        runner_box["r"] = runner
        ready.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    )
    thread.start()
    ready.wait(10)
    try:
        yield sink
    finally:
        asyncio.run_coroutine_threadsafe(runner_box["r"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def write_secrets(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f'{k} = "{v}"\n' for k, v in values.items()), encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class Service:
    proc: subprocess.Popen[str]
    lines: list[str]

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in list(self.lines):
                if predicate(line):
                    return line
            if self.proc.poll() is not None and not any(predicate(x) for x in self.lines):
                raise AssertionError(f"the service exited {self.proc.returncode}: {''.join(self.lines)}")
            time.sleep(0.02)
        raise AssertionError(f"timed out; service said: {''.join(self.lines)}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@contextmanager
def notify_service(
    db: Path,
    secrets: Path | None,
    *,
    start: float,
    speed: float = 1.0,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[Service]:
    """`sladesk notify` as a real process, its clock injected (SLADESK_TEST_CLOCK)."""
    env = {**os.environ, "SLADESK_TEST_CLOCK": f"{start!r}x{speed!r}", **(extra_env or {})}
    argv = [sys.executable, "-m", "sladesk_tui", "--db", str(db), "notify", *args]
    if secrets is not None:
        argv += ["--secrets", str(secrets)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    service = Service(proc, lines)
    try:
        service.wait_for(lambda x: "watching" in x)
        yield service
    finally:
        service.stop()


def mail_keys(mails: list[Mail]) -> list[str]:
    return [str(m.message["Message-ID"]) for m in mails]


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)
