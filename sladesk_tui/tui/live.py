"""Screens that show one read of the database and follow what other connections commit.

The ticket and review screens work the same way: each load runs in a thread
worker on its own connection and carries a generation number, so a slow old load
never paints over a newer one; a timer compares `PRAGMA data_version` and reloads
when another connection committed, but only while the screen is on top (a modal
over it waits, and the screen catches up when it is back); after its own write the
screen reloads at once and takes the new version as seen.

The messages are shared so that every screen reports a failure or a committed
write the same way (`Failed.reason`, `Written.done`, both plain text for a toast).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.message import Message
from textual.screen import Screen

from sladesk_tui.core.text import safe_text

if TYPE_CHECKING:
    from sladesk_tui.tui.app import SladeskApp
    from sladesk_tui.tui.data import Desk


class Loaded(Message, namespace="live"):
    """One load finished; shown only if `generation` is still the screen's latest."""

    def __init__(self, generation: int, view: Any) -> None:
        super().__init__()
        self.generation = generation
        self.view = view


class Failed(Message, namespace="live"):
    """A read or a write did not happen; `reason` says why, for the operator."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class Written(Message, namespace="live"):
    """A write committed; `done` says what, for the operator."""

    def __init__(self, done: str) -> None:
        super().__init__()
        self.done = done


class LiveScreen(Screen[None]):
    """A screen fed by generation-guarded loads that follows other connections' commits.

    A subclass names what it reads (`reading`, for the failure text), builds the
    read (`reader`, on the UI thread so the worker gets a snapshot of the filters),
    shows a current load (`show`) and calls `follow()` from `on_mount`.
    """

    POLL_NAME: ClassVar[str] = "live-poll"

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0  # loads shown so far (tests wait on it)
        self._generation = 0
        self._data_version: int | None = None

    @property
    def sladesk(self) -> SladeskApp:
        return cast("SladeskApp", self.app)

    @property
    def desk(self) -> Desk:
        return self.sladesk.desk

    # ---- what a subclass supplies -----------------------------------------------------

    def reading(self) -> str:
        """What a load reads, for `Cannot read …`."""
        raise NotImplementedError

    def reader(self, now: float) -> Callable[[], Any]:
        """The read of one load, run on the worker's thread."""
        raise NotImplementedError

    def show(self, view: Any) -> None:
        """Paint a load that is still current."""
        raise NotImplementedError

    def stale(self) -> bool:
        """True when the shown figures must be recomputed although nothing was committed."""
        return False

    # ---- the mechanism ----------------------------------------------------------------

    def follow(self) -> None:
        """Load now, then reload whenever another connection commits."""
        self._data_version = self.desk.data_version()
        self.reload()
        self.set_interval(self.sladesk.poll_interval, self._poll, name=self.POLL_NAME)

    def reload(self) -> None:
        self._generation += 1
        self._load(self._generation, self.reader(self.desk.now()))

    @work(thread=True, exclusive=True, group="live-load", exit_on_error=False)
    def _load(self, generation: int, read: Callable[[], Any]) -> None:
        try:
            view = read()
        except Exception as exc:  # noqa: BLE001 - shown to the operator; the screen stays usable
            self.post_message(Failed(f"Cannot read {self.reading()}: {type(exc).__name__}: {exc}"))
            return
        self.post_message(Loaded(generation, view))

    def _poll(self) -> None:
        if self.app.screen is not self:
            return
        version = self.desk.data_version()
        if version != self._data_version or self.stale():
            self._data_version = version
            self.reload()

    def on_live_loaded(self, message: Loaded) -> None:
        if message.generation == self._generation:
            self.show(message.view)

    def on_live_failed(self, message: Failed) -> None:
        self.say(message.reason, "error")

    def after_write(self, done: str) -> None:
        """Our own commit: say so, reload now (not on the next poll) and refresh the queue."""
        self.say(done)
        self._data_version = self.desk.data_version()
        self.reload()
        self.sladesk.refresh_queue()

    def say(self, message: str, severity: str = "information") -> None:
        self.notify(safe_text(message), severity=severity, markup=False)  # type: ignore[arg-type]  # severity is one of Textual's three literals
