"""The one way a screen reads and writes the database: off the UI thread, on its own connection.

sqlite3 connections belong to the thread that opened them, and a read can take
long enough to freeze the screen, so every read and write runs in a thread worker
that opens its own connection (`Desk.run`: open, run, close whatever happens).
Whatever goes wrong is caught there and reported as one line for the operator
(`failure_text`): the screen stays usable. The result comes back to the UI thread
as a message (`Finished`, `Failed`), the Textual way, and is applied there.

`BackgroundScreen` carries the mechanism: `run_in_background` for any job
(`off_thread` when the job brings its own connection), `load` for the screen's
main read, which counts its own loads (`generation`, `shown`): a slow old load
never paints over a newer one, `ready` says the first is on screen and
`load_pending` that the newest is not yet (not `loading`: that is Textual's
spinner). `LiveScreen` adds following other connections' commits. See docs/tui.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from textual.message import Message
from textual.screen import Screen, ScreenResultType

from sladesk_tui.core.text import safe_text
from sladesk_tui.store.backend import Connection
from sladesk_tui.tui.helpers import sladesk_app
from sladesk_tui.tui.messages import QueueStale

if TYPE_CHECKING:
    from sladesk_tui.tui.app import SladeskApp
    from sladesk_tui.tui.data import Desk

T = TypeVar("T")
Severity = Literal["information", "warning", "error"]


def failure_text(exc: BaseException) -> str:
    """One line for the operator: our own refusals as they are worded, database errors
    in the user's terms (busy: nothing was written, and who holds the lock; read-only;
    damaged: docs/database.md), anything else with its type so it can be reported."""
    from sladesk_tui.store.db import describe_error

    return describe_error(exc)


class Finished(Message, namespace="background"):
    """A background job returned `result`; `deliver` applies it on the UI thread
    (and is awaited when it is a coroutine: a screen may mount widgets)."""

    def __init__(self, deliver: Callable[[Any], object], result: Any) -> None:
        super().__init__()
        self.deliver = deliver
        self.result = result


class Failed(Message, namespace="background"):
    """A read or a write did not happen; `reason` says why, in plain text for a toast."""

    def __init__(self, reason: str, deliver: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.reason = reason
        self.deliver = deliver


class BackgroundScreen(Screen[ScreenResultType]):
    """A screen (or a modal: mix in before `ModalScreen`) that reads and writes in the background.

    A subclass with a main read builds it with `load(read, reading=...)` and paints a
    current one in `show`; writes and side reads go through `run_in_background`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0  # loads asked for
        self.shown = 0  # the generation on screen (0: none yet)

    @property
    def sladesk(self) -> SladeskApp:
        return sladesk_app(self)

    @property
    def desk(self) -> Desk:
        return self.sladesk.desk

    @property
    def load_pending(self) -> bool:
        """True until the latest load is on screen."""
        return self.shown != self.generation

    @property
    def ready(self) -> bool:
        """The first load is on screen (or said why it failed)."""
        return self.shown > 0

    # ---- the mechanism ----------------------------------------------------------------

    def run_in_background(
        self,
        job: Callable[[Connection], T],
        then: Callable[[T], object],
        *,
        failed: str,
        group: str,
        otherwise: Callable[[str], None] | None = None,
        readonly: bool = False,
        exclusive: bool = True,
    ) -> None:
        """Run `job` on a connection of a worker thread; `then(result)` on the UI thread.

        On an exception, `otherwise` (default: `self.failed`) gets `"<failed>: <why>"`.
        `exclusive`: a new job of the same `group` cancels the waiting one.
        """
        desk = self.desk
        self.off_thread(
            lambda: desk.run(job, readonly=readonly),
            then,
            failed=failed,
            group=group,
            otherwise=otherwise,
            exclusive=exclusive,
        )

    def off_thread(
        self,
        work: Callable[[], T],
        then: Callable[[T], object],
        *,
        failed: str,
        group: str,
        otherwise: Callable[[str], None] | None = None,
        exclusive: bool = True,
    ) -> None:
        """`run_in_background` for work that brings its own connection (the queue's
        feed object answers searches itself): same worker, same messages."""

        def work_then_post() -> None:
            try:
                result = work()
            except Exception as exc:  # noqa: BLE001 - reported to the operator; the screen stays usable
                self.post_message(Failed(f"{failed}: {failure_text(exc)}", otherwise))
                return
            self.post_message(Finished(then, result))

        self.run_worker(
            work_then_post, name=group, group=group, exclusive=exclusive, thread=True, exit_on_error=False
        )

    def load(self, read: Callable[[Connection], Any], *, failed: str, readonly: bool = False) -> None:
        """Start the screen's main read; only the newest load is shown (`show`) or
        reported (`failed`): an older one finishing late is dropped."""
        self.generation += 1
        generation = self.generation

        def current() -> bool:
            if generation != self.generation:
                return False
            self.shown = generation
            return True

        self.run_in_background(
            read,
            lambda view: self.show(view) if current() else None,
            failed=failed,
            otherwise=lambda reason: self.failed(reason) if current() else None,
            group="load",
            readonly=readonly,
        )

    def show(self, view: Any) -> Awaitable[None] | None:
        """Paint a load that is still current (may be async: it is awaited)."""
        raise NotImplementedError

    def failed(self, reason: str) -> None:
        """A job failed: say so (a screen may show it in place instead)."""
        self.say(reason, "error")

    async def on_background_finished(self, message: Finished) -> None:
        message.stop()
        shown = message.deliver(message.result)
        if inspect.isawaitable(shown):
            await shown

    def on_background_failed(self, message: Failed) -> None:
        message.stop()
        (message.deliver or self.failed)(message.reason)

    def say(self, message: str, severity: Severity = "information") -> None:
        self.notify(safe_text(message), severity=severity, markup=False)


class LiveScreen(BackgroundScreen[None]):
    """A screen fed by one read that follows what other connections commit.

    A timer compares `PRAGMA data_version` (microseconds, on the UI thread's
    connection) and reloads when another connection committed, but only while the
    screen is on top (a modal over it waits; the screen catches up when it is back).
    After its own write the screen reloads at once and takes the new version as seen.

    A subclass names what it reads (`reading`), builds the read (`reader`, on the UI
    thread so the worker gets a snapshot of the filters), shows a current load
    (`show`) and calls `follow()` from `on_mount`.
    """

    POLL_NAME: ClassVar[str] = "live-poll"

    def __init__(self) -> None:
        super().__init__()
        self._data_version: int | None = None

    def reading(self) -> str:
        """What a load reads, for `Cannot read …`."""
        raise NotImplementedError

    def reader(self, now: float) -> Callable[[Connection], Any]:
        """The read of one load, run on the worker's thread with its connection."""
        raise NotImplementedError

    def stale(self) -> bool:
        """True when the shown figures must be recomputed although nothing was committed."""
        return False

    def follow(self) -> None:
        """Load now, then reload whenever another connection commits."""
        self._data_version = self.desk.data_version()
        self.reload()
        self.set_interval(self.sladesk.poll_interval, self._poll, name=self.POLL_NAME)

    def reload(self) -> None:
        self.load(self.reader(self.desk.now()), failed=f"Cannot read {self.reading()}")

    def _poll(self) -> None:
        if self.app.screen is not self:
            return
        version = self.desk.data_version()
        if version != self._data_version or self.stale():
            self._data_version = version
            self.reload()

    def write(self, job: Callable[[Connection], object], *, done: str, failed: str) -> None:
        """Commit `job` in the background; then say `done`, reload and wake the queue."""
        self.run_in_background(
            job, lambda _: self.after_write(done), failed=failed, group="write", exclusive=False
        )

    def after_write(self, done: str) -> None:
        """Our own commit: say so, reload now (not on the next poll) and refresh the queue."""
        self.say(done)
        self._data_version = self.desk.data_version()
        self.reload()
        self.post_message(QueueStale())
