"""A big events file imported with its parsing in a second process (docs/bulk_import.md).

Reading, decoding, validating an events file and computing each event's digest take
about as long as storing the events. For a big file (`PIPELINE_MIN_BYTES` and up)
`import_pipelined` runs that part in a child process (`main`, run by ``python -I``),
which streams each event's ready row (`imports.event_row`) through a pipe in batches
while this process checks them against the database and writes them: the two
halves run on two cores at once. The child also computes the audit digest of the
rows as they will be stored if every event is inserted in file order (this process
tells it the first seq and the recording columns); this process uses it only when
that is what happened, and reads the rows back otherwise. The outcomes of the new
tickets are computed while the file still arrives (`_EarlyOutcomes`).

It is a fast path, never a second set of rules. The events go through the same
`_Batch` of `store.imports` (idempotency, tickets, projection), then the same
outcomes and audit row, in ONE write transaction; and anything out of the ordinary
makes it step aside, with that transaction rolled back, for the ordinary path
(`import_file` parsing in-process), which words every refusal as always:

- the child meets a line it cannot parse, or the input as a whole is unreadable;
- an event is refused against the database (unknown ticket, conflicting id, ...).

The events are checked and stored in file order, chunk by chunk as they arrive,
where the ordinary path sorts the whole input by time first. When no event is
refused the two agree on what is stored: an event is accepted in file order exactly
when it is in time order (its ticket's `created` comes before it in the file, and
not after it in time); each ticket is projected from its history in `(at, file
order)` (a chunk that brings older events replays it); and `seq` follows the file,
which keeps `(ts, seq)` the `(at, file order)` of every ticket's history. When an
event is refused, the ordinary path decides and words it.

So a bad line at the end of a big file leaves nothing written, and is reported
exactly as before (FILE:LINE, exit status 2). The child dying, or sending something
that is not its protocol, is reported as one line naming the file, and nothing is
written either.

Unlike the ordinary path, the write lock is taken while the file is still being
parsed: that is the point of the pipeline. It is used for regular files only (a slow
pipe on stdin must not hold the lock).
"""

from __future__ import annotations

import contextlib
import gc
import json
import marshal
import os
import queue
import select
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.eventfile import read_events
from sladesk_tui.core.events import OPTIONAL_FIELDS, Event, event_digest, event_maker
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.audit import RangeDigest
from sladesk_tui.store.backend import Connection, is_postgres
from sladesk_tui.store.bulk_sqlite import bulk_load
from sladesk_tui.store.db import open_db, write_tx
from sladesk_tui.store.imports import (
    CHUNK,
    EVENT_ROW_COLUMNS,
    ImportReport,
    _Batch,
    _BoundedLines,
    _IsoCache,
    event_row,
)
from sladesk_tui.store.instants import now_ts
from sladesk_tui.store.outcomes import refresh_outcomes

# Files smaller than this are parsed in-process: a child costs a few tenths of a second.
PIPELINE_MIN_BYTES = 4 << 20
# Events per message from the child; the pipe's back-pressure bounds what is in flight.
BATCH = 5_000
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# The child: this module's `main`, run by the same interpreter isolated from the
# environment (-I: no PYTHONPATH, PYTHONSTARTUP or user site, as a deployment runs
# `python -I -m sladesk_tui`), importing this package from where this process found
# it. Its arguments are FILE FORMAT. Tests swap it for a misbehaving one.
WORKER: list[str] = [
    sys.executable,
    "-I",
    "-c",
    f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r});"
    " from sladesk_tui.store.bulk_import import main; sys.exit(main(sys.argv[1:]))",
]

# The columns of an `imports.event_row`, in order.
_ROW = ("id", "type", "ticket", "at", "at_iso", *OPTIONAL_FIELDS, "digest")
_HEADER = struct.Struct(">I")
# The messages are tuples of lists of tuples of str, float, int and None: what
# `marshal` spells (faster than pickle both ways, and it runs no code on loading).
_MARSHAL_VERSION = 4
# Batches read from the pipe and not yet stored, at most (about 60 MB at 1M events).
_IN_FLIGHT = 64
# How long a child that broke its protocol is given to end by itself before it is killed.
_GRACE_S = 2.0


# An event from what crosses the pipe: its `imports.event_row` and its line.
make_event: Callable[[tuple[Any, ...], int], Event] = event_maker(
    {name: f"r[{_ROW.index(name)}]" for name in ("id", "type", "ticket", "at", *OPTIONAL_FIELDS)}
    | {"seq": "seq"},
    "r, seq",
)


class _StepAside(Exception):
    """The pipelined import cannot finish as the ordinary path would: roll back, retry it."""


def import_pipelined(
    db: Connection | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    fmt: str,
    actor: str,
    source: str | None,
    require: str | None,
) -> ImportReport | None:
    """`import_file` for a big regular file, parsed by a child process while this one
    writes; an `ImportReport`, or None when the ordinary path must do the import
    (a small file, stdin, anything irregular: see the module docstring)."""
    if str(path) == "-" or is_postgres(db):
        return None  # stdin, or a PostgreSQL target: the ordinary path
    if not isinstance(db, sqlite3.Connection | str | os.PathLike):
        return None  # a PostgreSQL connection
    try:
        st = os.stat(path)
    except OSError:
        return None  # the ordinary path words it
    if not stat.S_ISREG(st.st_mode) or st.st_size < PIPELINE_MIN_BYTES:
        return None
    name = safe_text(str(path))
    own = not isinstance(db, sqlite3.Connection)
    with _Child(path, fmt) as child:
        conn: Connection = db if isinstance(db, sqlite3.Connection) else open_db(db)
        try:
            return _import(
                conn,
                child,
                name,
                actor=actor,
                source=source or f"import:{name}",
                require=require,
                rows=st.st_size // 100,
            )
        except _StepAside:
            return None
        finally:
            if own:
                conn.close()


def _import(
    conn: Connection,
    child: _Child,
    name: str,
    *,
    actor: str,
    source: str,
    require: str | None,
    rows: int,
) -> ImportReport:
    with write_tx(conn):
        if require is not None:
            from sladesk_tui.store.roles import require_role

            require_role(conn, actor, require)
        batch = _Batch(conn, actor=actor, source=source, name=name)
        # The parser computes the audit digest of the rows, as they will be stored if
        # every event is inserted, in file order, from the next seq; else it is read back.
        first = _next_seq(conn)
        batch.digest = None
        child.start(first, (batch.actor, batch.source, batch.recorded_at))
        now = now_ts()
        early = _EarlyOutcomes(batch, now)
        with bulk_load(conn, rows):
            events: list[Event] = []
            prepared: list[tuple[Any, ...]] = []
            for seqs, made in child.batches(name):
                events += map(make_event, made, seqs)
                prepared += made
                if len(events) >= CHUNK or (len(events) >= CHUNK // 8 and child.idle()):
                    _add(batch, events, prepared)
                    early.step()
                    events, prepared = [], []
            if events:
                _add(batch, events, prepared)
                early.step()
            rest = early.rest()
            refresh_outcomes(conn, rest, now, known=batch.fresh_records(rest))
            count, digest = child.digest
            if (
                digest is not None
                and count == batch.inserted
                and (batch.first_seq, batch.last_seq) == (first, first + count - 1)
            ):
                batch.digest = RangeDigest.computed(EVENT_ROW_COLUMNS, count, digest)
            result = batch.finish()
    return ImportReport(name, result.inserted, result.already_present, ())


class _EarlyOutcomes:
    """The outcomes of the tickets this import created, computed while the file is
    still arriving: this process waits for the parser most of the time, and the clock
    engine (about 40 us a ticket) would otherwise run after the last event, with
    nothing to overlap it.

    After each chunk, the new tickets the previous chunk gave events and this one did
    not are taken as complete and their outcomes stored, from the history they have
    so far. A later chunk that gives one of them more events takes it back (`done`
    loses it) and the final `refresh_outcomes` computes it again, comparing with what
    is stored, so what commits is what one refresh after the last event would store.
    The same `now` is used for both. A ticket taken back is not computed early again:
    a file sorted by event type (every `created`, then every reply, ...) costs at most
    one early computation per ticket.
    """

    def __init__(self, batch: _Batch, now: float) -> None:
        self._batch = batch
        self._now = now
        self._previous: set[str] = set()
        self._again: set[str] = set()  # taken back once: left to the final refresh
        self.done: set[str] = set()

    def step(self) -> None:
        batch = self._batch
        touched = set(batch.last_touched)
        back = self.done & touched
        self.done -= back
        self._again |= back
        settled = [tid for tid in self._previous - touched if tid in batch.fresh and tid not in self._again]
        self._previous = touched
        if settled:
            known = batch.fresh_records(settled)  # those an agreement governs: the others have none
            refresh_outcomes(batch.conn, known, self._now, known=known)
            self.done.update(settled)

    def rest(self) -> list[str]:
        """The changed tickets still to refresh: all but those done and the new ones
        no agreement governs (their agreement is chosen once, at creation: no clock)."""
        batch = self._batch
        return [
            tid
            for tid in batch.changed - self.done
            if tid not in batch.fresh or batch.tickets[tid].agreement_id is not None
        ]


def _next_seq(conn: Connection) -> int:
    """The seq the next inserted event gets (AUTOINCREMENT: above any ever used)."""
    row = conn.execute(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),"
        " COALESCE((SELECT MAX(seq) FROM events), 0)) + 1"
    ).fetchone()
    return int(row[0])


def _add(batch: _Batch, events: list[Event], prepared: list[tuple[Any, ...]]) -> None:
    batch.add(events, prepared)
    if batch.errors:
        raise _StepAside  # the ordinary path reports them, with every event in view


class _Child:
    """The parsing process and its pipe; killed and reaped on the way out, whatever happens.

    A thread of ours drains the pipe into a queue as the child writes: the pipe
    holds 64 KiB, a batch far more, so without it the child stalls as soon as it is
    one batch ahead, and waits while this process stores a chunk, and the two halves
    take turns instead of running at once (measured: 1M events in 37.9 s, the sum of
    both processes' CPU; docs/bulk_import.md). The queue's bound keeps what is in
    flight to `_IN_FLIGHT` batches.
    """

    def __init__(self, path: str | os.PathLike[str], fmt: str) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [*WORKER, os.fsdecode(os.fspath(path)), fmt],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=_IN_FLIGHT)
        self._stopping = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="sladesk-import-pipe", daemon=True)
        self._reader.start()
        self.digest: tuple[int, str | None] = (0, None)  # (rows, audit digest) from the end mark

    def start(self, first_seq: int, recording: tuple[str, str, str]) -> None:
        """Tell the child the seq its first event gets if all are stored, and the
        recording columns (actor, source, recorded_at), for the audit digest."""
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps([first_seq, *recording]).encode() + b"\n")
            stdin.close()
        except OSError:  # it has died already: `batches` says so
            pass

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        while self._reader.is_alive():  # the pipe is at its end now; unblock a full queue
            try:
                self._frames.get_nowait()
            except queue.Empty:
                pass
            self._reader.join(timeout=0.05)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()

    def idle(self) -> bool:
        """No batch is waiting: storing what has come costs no time now, and what is
        left to store after the child's last batch is less."""
        return self._frames.empty()

    def _drain(self) -> None:
        """The reading thread: each frame's body onto the queue, then None at the end."""
        out = self.proc.stdout
        assert out is not None
        try:
            while not self._stopping.is_set():
                head = out.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    break
                self._frames.put(out.read(_HEADER.unpack(head)[0]))
        except (OSError, ValueError):  # the pipe closed under us: the end either way
            pass
        self._frames.put(None)

    def batches(self, name: str) -> Iterator[tuple[list[int], list[tuple[Any, ...]]]]:
        """The child's batches (lines, rows) up to its end mark, which sets `digest`;
        `_StepAside` when it asks for the ordinary path, InputError (nothing written)
        when it dies or garbles the stream."""
        while True:
            body = self._frames.get()
            if body is None:
                raise self._died(name)
            try:
                kind, *payload = marshal.loads(body)
            except Exception:  # noqa: BLE001 - a truncated or foreign stream, whatever the error
                raise self._died(name) from None
            if kind == "events" and len(payload) == 2:
                yield payload[0], payload[1]
            elif kind == "end" and len(payload) == 2:
                self.digest = (payload[0], payload[1])
                return
            elif kind == "aside":
                raise _StepAside
            else:
                raise self._died(name)

    def _died(self, name: str) -> InputError:
        try:
            code = self.proc.wait(timeout=_GRACE_S)  # its own end says most
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        last = f": {safe_text(lines[-1][:200])}" if lines else ""
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        return InputError(
            f"the parsing process stopped before the end of the file ({how}{last}); nothing was imported",
            where=name,
        )


# ---- the child -------------------------------------------------------------------------


def _send(out: IO[bytes], message: tuple[Any, ...]) -> None:
    body = marshal.dumps(message, _MARSHAL_VERSION)
    out.write(_HEADER.pack(len(body)))
    out.write(body)


def child_main(path: str, fmt: str, out: IO[bytes], inp: IO[bytes] | None = None) -> int:
    """Parse `path` and stream its events to `out`, in file order; ask for the
    ordinary path at the first line that is not a valid event. The importer writes
    one line to `inp` (stdin): the first seq and the recording columns, read before
    the first batch is sent, for the audit digest of the rows (`_Child.start`)."""
    gc.disable()  # nothing cyclic is made here; see store.imports._bulk
    iso = _IsoCache().get
    seqs: list[int] = []
    rows: list[tuple[Any, ...]] = []
    audit = _AuditRows(sys.stdin.buffer if inp is None else inp)
    try:
        with open(path, "rb") as fh:
            lines = _BoundedLines(fh)
            for _, item in read_events(lines, name=safe_text(path), fmt=fmt):
                if lines.overlong or not isinstance(item, Event):
                    _send(out, ("aside",))
                    return 0
                seqs.append(item.seq)
                rows.append(event_row(item, iso(item.at), event_digest(item)))
                if len(rows) >= BATCH:
                    _send(out, ("events", seqs, rows))
                    audit.add(rows)
                    seqs, rows = [], []
    except (InputError, OSError):
        _send(out, ("aside",))
        return 0
    if rows:
        _send(out, ("events", seqs, rows))
        audit.add(rows)
    _send(out, ("end", *audit.end()))
    return 0


class _AuditRows:
    """The child's side of the audit digest: the rows as stored if every event is
    inserted in file order from the importer's first seq (`imports.EVENT_ROW_COLUMNS`).
    None when the importer's line is missing or not understood: it then reads back.

    The importer writes its line once it holds the write lock, which may take a
    while (another writer): until then the rows wait here and the parsing goes on.
    """

    def __init__(self, inp: IO[bytes]) -> None:
        self._inp = inp
        self._digest: RangeDigest | None = None
        self._next = 0
        self._recording: tuple[Any, ...] = ()
        self._read = False
        self._waiting: list[list[tuple[Any, ...]]] = []

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        self._waiting.append(rows)
        if not self._read and _readable(self._inp):
            self._start()
        if self._read:
            self._feed()

    def end(self) -> tuple[int, str | None]:
        if not self._read:
            self._start()
        self._feed()
        if self._digest is None:
            return 0, None
        return self._digest.count, self._digest.hexdigest()

    def _feed(self) -> None:
        waiting, self._waiting = self._waiting, []
        if self._digest is None:
            return
        recording = self._recording
        for rows in waiting:
            first = self._next
            self._digest.add([(seq, *row, *recording) for seq, row in enumerate(rows, first)])
            self._next = first + len(rows)

    def _start(self) -> None:
        self._read = True
        try:
            first, *recording = json.loads(self._inp.readline())
        except (ValueError, TypeError, OSError):
            return
        if type(first) is int and len(recording) == 3 and all(type(v) is str for v in recording):
            self._digest = RangeDigest(EVENT_ROW_COLUMNS)
            self._next, self._recording = first, tuple(recording)


def _readable(inp: IO[bytes]) -> bool:
    """Whether reading `inp` would not block (a pipe with data or at its end)."""
    try:
        fd = inp.fileno()
    except (OSError, ValueError):  # not a file (io.BytesIO): never blocks
        return True
    return bool(select.select([fd], [], [], 0)[0])


def main(argv: list[str]) -> int:
    """The child's entry point: FILE FORMAT."""
    try:
        status = child_main(argv[0], argv[1], sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # the importer stopped reading: it has stepped aside or failed
        status = 1
    return status
