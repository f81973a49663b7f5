"""`sladesk import --follow FILE`: tail a growing events file into the store.

A webhook relay or an export job appends to the file; the follower commits each
batch of complete lines as it arrives, so the live queue follows the system of
record. Behaviour a live feed needs, and `tail -F` users expect:

- Starts at the beginning of the file: events already stored are skipped by id,
  so restarting a follower is always safe.
- A partial last line (no newline yet) waits until the writer completes it.
- Rotation: while the path is missing (renamed away, not yet recreated) the old
  file is still read, since its writer may not have switched yet. Once the path
  names another file, the old one is read to its end (an unterminated last line
  counts as complete: a rotated file no longer grows) and the new one from its
  start. A file truncated in place (copytruncate) is read again from its start, and
  so is one truncated and rewritten longer than before (`: > f` then `... > f`),
  which the size alone cannot show: the last bytes read are compared with what
  the file now holds at that offset on every round.
- A file that does not exist yet is waited for (its directory must exist: a typo in
  a directory name still fails at once). A directory is refused.
- A bad line (unparsable, unknown ticket, conflicting id) is reported on the error
  stream as ``FILE:LINE: reason`` and skipped: one bad event must not stop a feed.
  Should storing a batch fail for any other reason, its events are stored one at a
  time and the one that fails is reported and skipped the same way: the follower
  never dies on a line, and a restarted one does not die on it either.
- The file name is shown (and recorded as the events' source) with control and
  bidi characters neutralised (`core.text.safe_text`).
- A database busy for longer than the busy timeout only delays the batch: it is
  retried on the next round, nothing is dropped. A lost connection (the server
  restarted, the session was ended) is said in one line and reopened, waiting
  longer between tries up to `RECONNECT_MAX_S`; the batch is then stored again
  (events already stored are skipped by id). A rule's refusal (a privilege taken
  away, a trigger's RAISE, the feed role gone) stops the follower with one line
  naming the file and line (`Refused`, exit status 2): trying again cannot help.
  Which is which is `store.failures`' decision, for every long-running loop.
- Stops when `stop` is set or on KeyboardInterrupt (a batch being written then is
  rolled back and will be re-read by the next follower).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TextIO

from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.core.eventfile import MAX_LINE_BYTES, EventReader
from sladesk_tui.core.events import Event
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.db import open_db
from sladesk_tui.store.failures import Failure, classify, reason
from sladesk_tui.store.imports import IngestResult, ingest

_READ_SIZE = 1 << 20
# Bytes before the read position compared each round to notice a rewritten file.
_FINGERPRINT = 256
# Events committed per transaction at most, so a large backlog is not one huge commit.
_MAX_BATCH = 50_000
# Between tries to reopen a lost connection: doubling from the first, never longer than the max.
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0


@dataclass(frozen=True, slots=True)
class FollowReport:
    """Totals of a follow session, when it stops."""

    inserted: int
    already_present: int
    invalid: int
    batches: int


class Tail:
    """The complete lines appended to a file, across rotation and truncation.

    `read()` returns ``(generation, line)`` pairs (lines keep their b"\\n"); the
    generation grows when a new file starts, so the parser's state (line numbers,
    CSV header) is reset exactly there.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.generation = 0
        self._fh: IO[bytes] | None = None
        self._ino: tuple[int, int] | None = None
        self._pos = 0
        self._buf = b""
        self._discarding = False  # inside an over-long line: drop bytes until its newline
        self._seen = b""  # the last bytes read, ending at _pos

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def read(self) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        try:
            st = os.stat(self.path)
        except OSError:  # missing, or its directory not searchable: as if rotating
            st = None
        if self._fh is not None and st is not None and (st.st_dev, st.st_ino) != self._ino:
            self._drain(out, final=True)  # rotated: finish the old file
            self.close()
        elif self._fh is not None and st is not None and self._rewritten(st.st_size):
            self.close()  # truncated (and maybe rewritten): what is there is a new file
            self._buf, self._discarding = b"", False
        if self._fh is None:
            if st is None:
                return out
            try:
                fh = open(self.path, "rb")  # noqa: SIM115 - kept open across calls
            except OSError:  # gone again, a directory, not readable: try next round
                return out
            fst = os.fstat(fh.fileno())
            self._fh, self._ino, self._pos = fh, (fst.st_dev, fst.st_ino), 0
            self._buf, self._discarding, self._seen = b"", False, b""
            self.generation += 1
        self._drain(out, final=False)
        return out

    def _rewritten(self, size: int) -> bool:
        """The open file no longer holds what was read from it: shorter than the read
        position, or other bytes just before it (truncated, then rewritten longer)."""
        if size < self._pos:
            return True
        if not self._seen or self._fh is None:
            return False
        start = self._pos - len(self._seen)
        return os.pread(self._fh.fileno(), len(self._seen), start) != self._seen

    def _drain(self, out: list[tuple[int, bytes]], *, final: bool) -> None:
        fh = self._fh
        assert fh is not None
        gen = self.generation
        while True:
            chunk = fh.read(_READ_SIZE)
            if not chunk:
                break
            self._pos += len(chunk)
            self._seen = (self._seen + chunk)[-_FINGERPRINT:]
            data = self._buf + chunk
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                if self._discarding:
                    self._discarding = False
                else:
                    out.append((gen, data[start : nl + 1]))
                start = nl + 1
            self._buf = data[start:]
            if len(self._buf) > MAX_LINE_BYTES:
                if not self._discarding:
                    out.append((gen, self._buf))  # the parser reports it as too long
                self._buf, self._discarding = b"", True
        if final and self._buf and not self._discarding:
            out.append((gen, self._buf))
            self._buf = b""


def follow(
    db_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    actor: str,
    source: str | None = None,
    fmt: str = "auto",
    poll_interval: float = 0.2,
    stop: threading.Event | None = None,
    err: TextIO | None = None,
    on_batch: Callable[[IngestResult], None] | None = None,
    require: str | None = None,
) -> FollowReport:
    """Tail `path` into the database at `db_path` until `stop` is set or interrupted.

    Errors go to `err` (default stderr) as ``sladesk: FILE:LINE: reason``; `on_batch`
    is called after each committed batch. A file that does not exist yet is waited
    for (said once on `err`); a missing directory or a directory is an InputError.
    `require` (a role, as for `ingest`) is checked with every batch: a follower whose
    account loses the feed role stops with `Refused`, its pending batch unwritten.
    """
    path = os.fspath(path)
    name = safe_text(path)
    if os.path.isdir(path):
        raise InputError("is a directory, not an events file", where=name)
    if not os.path.exists(path):
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise InputError(f"no such directory {safe_text(parent)!r}", where=name)
        print(
            f"sladesk: {name}: no such file yet; waiting for it (interrupt to stop)",
            file=err or sys.stderr,
            flush=True,
        )
    source = source or f"import:{name}"
    stop = stop or threading.Event()
    tail = Tail(path)
    reader: EventReader | None = None
    generation = 0
    pending: list[Event] = []
    totals = [0, 0, 0, 0]

    conn = open_db(db_path)  # closed at the end (the `finally` below)

    def report(e: InputError) -> None:
        totals[2] += 1
        print(f"sladesk: {safe_text(str(e))}", file=err or sys.stderr, flush=True)

    def store(batch: list[Event]) -> IngestResult:
        """`ingest` the batch; if it fails other than busy, lost or refused, one event at a
        time, reporting each that fails: a line that breaks the store must not stop the feed.
        A refusal names the first line refused (those before it are stored)."""
        try:
            return ingest(
                conn, batch, actor=actor, source=source, name=name, skip_invalid=True, require=require
            )
        except Exception as exc:  # noqa: BLE001 - sorted by store.failures, then narrowed event by event
            kind = classify(exc)
            if _not_the_line(exc, kind):
                raise
            if kind is Failure.REFUSED and len(batch) == 1:
                raise _refused(exc, f"{name}:{batch[0].seq}") from None
        results = []
        for ev in batch:
            try:
                results.append(
                    ingest(
                        conn, [ev], actor=actor, source=source, name=name, skip_invalid=True, require=require
                    )
                )
            except Exception as exc:  # noqa: BLE001 - reported with its line, then skipped
                kind = classify(exc)
                if _not_the_line(exc, kind):
                    raise
                if kind is Failure.REFUSED:
                    raise _refused(exc, f"{name}:{ev.seq}") from None
                report(InputError(f"not imported ({type(exc).__name__}: {exc})", where=f"{name}:{ev.seq}"))
        return IngestResult(
            sum(r.inserted for r in results),
            sum(r.already_present for r in results),
            tuple(e for r in results for e in r.errors),
        )

    def reconnect(exc: BaseException) -> None:
        """Open a new connection after `exc` lost the old one, until it works or `stop`
        is set (the loop then ends: the pending lines are read again by the next follower)."""
        nonlocal conn
        say(f"lost the database connection ({reason(exc)}); reconnecting")
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken; closing is best effort
            pass
        pause = RECONNECT_FIRST_S
        while not stop.is_set():
            try:
                conn = open_db(db_path)
            except (InputError, sqlite3.Error):
                if stop.wait(pause):
                    break
                pause = min(pause * 2, RECONNECT_MAX_S)
                continue
            say("reconnected; storing the pending lines again")
            return

    def say(text: str) -> None:
        print(f"sladesk: {name}: {text}", file=err or sys.stderr, flush=True)

    try:
        while not stop.is_set():
            for gen, line in tail.read():
                if reader is None or gen != generation:
                    reader, generation = EventReader(name, fmt), gen
                try:
                    out = reader.feed(line)
                except InputError as exc:  # a bad CSV header: nothing of this file can be read
                    report(exc)
                    out = None
                    reader = _Refusing(name)
                except Exception as exc:  # noqa: BLE001 - a line the parser fails on is skipped
                    report(
                        InputError(
                            f"not read ({type(exc).__name__}: {exc})", where=f"{name}:{reader.line_no}"
                        )
                    )
                    out = None
                if out is None:
                    continue
                item = out[1]
                if isinstance(item, Event):
                    pending.append(item)
                else:
                    report(item)
            while pending and not stop.is_set():
                batch, rest = pending[:_MAX_BATCH], pending[_MAX_BATCH:]
                try:
                    result = store(batch)
                except Exception as exc:
                    kind = classify(exc)
                    if kind is Failure.BUSY:  # past the busy timeout: retry next round
                        say(f"database busy ({reason(exc)}); retrying")
                        break
                    if kind is Failure.LOST:
                        reconnect(exc)
                        break
                    raise  # refused (one line naming the line), or the database failing
                pending = rest
                for e in result.errors:
                    report(e)
                totals[0] += result.inserted
                totals[1] += result.already_present
                totals[3] += 1
                if on_batch is not None:
                    on_batch(result)
            if stop.wait(poll_interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        tail.close()
        conn.close()
    return FollowReport(inserted=totals[0], already_present=totals[1], invalid=totals[2], batches=totals[3])


def _not_the_line(exc: BaseException, kind: Failure) -> bool:
    """The database, not the event, failed: busy or lost (tried again), or failing in
    itself (a full disk, a missing table: the follower stops). Skipping the line then
    would lose it; only a refusal, a bad value or a bug about one event is the line's."""
    if kind in (Failure.BUSY, Failure.LOST):
        return True
    return kind is Failure.OTHER and isinstance(exc, sqlite3.OperationalError)


def _refused(exc: BaseException, where: str) -> Refused:
    """The follower's stop: the line refused and the database's reason, in one line."""
    if isinstance(exc, Refused):
        return exc if exc.where else Refused(str(exc), where=where)
    return Refused(f"refused by the database, so the feed stops here: {reason(exc)}", where=where)


class _Refusing(EventReader):
    """Stands in for the parser of a file whose CSV header is bad: ignores its lines
    (already reported once) until the file is rotated."""

    def feed(self, line: str | bytes) -> None:
        return None
