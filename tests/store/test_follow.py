"""`import --follow`: a growing file, partial lines, rotation and truncation, a bad line."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import backends
import pytest
from support import give_roles

from sladesk_tui.cli import main
from sladesk_tui.store.audit import verify
from sladesk_tui.store.db import connect
from sladesk_tui.store.follow import FollowReport, Tail, follow
from sladesk_tui.store.identity import login_user

DEADLINE_S = 15.0


def line(i: int, etype: str = "reply", ticket: str = "T-1", **fields: str) -> str:
    d = {
        "id": f"e{i}",
        "type": etype,
        "ticket": ticket,
        "at": f"2026-11-27T08:{i % 60:02d}:{i // 60:02d}Z",
        **fields,
    }
    return json.dumps(d) + "\n"


def created(i: int, ticket: str = "T-1") -> str:
    return line(i, "created", ticket, customer="acme", priority="P2", title=f"Ticket {ticket}")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()


def wait_for(cond: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE_S
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def event_ids(db: Path) -> list[str]:
    return [r[0] for r in backends.rows(db, "SELECT id FROM events ORDER BY seq")]


# ---- Tail --------------------------------------------------------------------------


def test_tail_returns_complete_lines_and_waits_for_a_partial_one(tmp_path: Path) -> None:
    f = tmp_path / "feed.jsonl"
    f.write_bytes(b"one\ntw")
    tail = Tail(f)
    try:
        assert tail.read() == [(1, b"one\n")]
        assert tail.read() == []
        append(f, "o\nthree")
        assert tail.read() == [(1, b"two\n")]
        append(f, "\n")
        assert tail.read() == [(1, b"three\n")]
    finally:
        tail.close()


def test_tail_follows_a_rotation_after_finishing_the_old_file(tmp_path: Path) -> None:
    f = tmp_path / "feed.jsonl"
    f.write_bytes(b"a\n")
    tail = Tail(f)
    try:
        assert tail.read() == [(1, b"a\n")]
        append(f, "b\nunterminated")
        os.rename(f, tmp_path / "feed.jsonl.1")
        assert tail.read() == [(1, b"b\n")]  # the path is missing: the old file may still grow
        assert tail.read() == []
        f.write_bytes(b"c\n")  # the new file: the old one is finished, its last line complete
        assert tail.read() == [(1, b"unterminated"), (2, b"c\n")]
    finally:
        tail.close()


def test_tail_rereads_a_file_truncated_in_place(tmp_path: Path) -> None:
    f = tmp_path / "feed.jsonl"
    f.write_bytes(b"first line\nsecond line\n")
    tail = Tail(f)
    try:
        assert len(tail.read()) == 2
        with f.open("r+b") as fh:  # copytruncate, then the writer goes on
            fh.truncate(0)
        append(f, "x\n")
        assert tail.read() == [(2, b"x\n")]
    finally:
        tail.close()


# ---- follow ------------------------------------------------------------------------


class Follower:
    """`follow` running in a thread, as the command runs it, with its error stream."""

    def __init__(self, db: Path, path: Path) -> None:
        self.stop = threading.Event()
        self.err = io.StringIO()
        self.batches = 0
        self.report: FollowReport | None = None
        self.failure: BaseException | None = None

        def run() -> None:
            try:
                self.report = follow(
                    db,
                    path,
                    actor="tester",
                    poll_interval=0.02,
                    stop=self.stop,
                    err=self.err,
                    on_batch=self._count,
                )
            except BaseException as exc:  # surfaced by finish()
                self.failure = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def _count(self, _result: object) -> None:
        self.batches += 1

    def finish(self) -> FollowReport:
        self.stop.set()
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()
        if self.failure is not None:
            raise self.failure
        assert self.report is not None
        return self.report


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    f = tmp_path / "feed.jsonl"
    f.write_text("")
    return f


@pytest.fixture
def follower(db_path: Path, feed: Path) -> Iterator[Follower]:
    fol = Follower(db_path, feed)
    yield fol
    fol.stop.set()
    fol.thread.join(DEADLINE_S)


@pytest.mark.both_backends
def test_follow_sees_appends_partial_lines_and_rotation_without_duplicates(
    db_path: Path, feed: Path, follower: Follower, tmp_path: Path
) -> None:
    append(feed, created(1) + line(2))
    wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "the first two events")

    half = line(3)
    append(feed, half[:20])  # the writer is mid-line: nothing may be read yet
    time.sleep(0.15)
    assert event_ids(db_path) == ["e1", "e2"]
    append(feed, half[20:] + line(4, "status", status="waiting"))
    wait_for(lambda: len(event_ids(db_path)) == 4, "the completed partial line")

    append(feed, line(5))
    os.rename(feed, tmp_path / "feed.jsonl.1")  # rotate: a new file, starting with a repeat
    feed.write_text(line(5) + created(6, "T-2") + line(7, ticket="T-2"))
    wait_for(lambda: len(event_ids(db_path)) == 7, "the events of the rotated file")

    report = follower.finish()
    assert event_ids(db_path) == [f"e{i}" for i in range(1, 8)]
    assert (report.inserted, report.already_present, report.invalid) == (7, 1, 0)
    assert follower.err.getvalue() == ""
    conn = connect(db_path, readonly=True)
    try:
        assert verify(conn).ok
        assert conn.execute("SELECT status FROM tickets WHERE id = 'T-1'").fetchone()[0] == "waiting"
    finally:
        conn.close()


@pytest.mark.both_backends
def test_a_bad_line_is_reported_and_the_feed_goes_on(db_path: Path, feed: Path, follower: Follower) -> None:
    append(feed, created(1) + "{not json\n" + line(3, ticket="T-404") + line(4))
    wait_for(lambda: event_ids(db_path) == ["e1", "e4"], "the good events around the bad lines")
    append(feed, line(5))
    wait_for(lambda: len(event_ids(db_path)) == 3, "an event after the bad lines")
    report = follower.finish()
    assert report.invalid == 2
    err = follower.err.getvalue().splitlines()
    assert err[0].startswith(f"sladesk: {feed}:2: invalid JSON")
    assert err[1] == (
        f"sladesk: {feed}:3: unknown ticket 'T-404': no 'created' event for it in the database "
        "or on an earlier line"
    )


@pytest.mark.both_backends
def test_a_writer_thread_racing_the_follower(db_path: Path, feed: Path, follower: Follower) -> None:
    """Many small appends cut at arbitrary bytes: every event arrives exactly once."""
    text = created(0) + "".join(line(i) for i in range(1, 300))
    data = text.encode()

    def writer(part: bytes) -> None:
        step = 37  # cuts lines anywhere
        for pos in range(0, len(part), step):
            with feed.open("ab") as fh:
                fh.write(part[pos : pos + step])
            if pos % 1110 < step:
                time.sleep(0.002)

    half = len(data) // 2 + 5  # mid-line
    for part in (data[:half], data[half:]):
        w = threading.Thread(target=writer, args=(part,))
        w.start()
        w.join()
        wait_for(lambda: len(event_ids(db_path)) >= 150, "the first half")
    wait_for(lambda: len(event_ids(db_path)) == 300, "all 300 events")
    report = follower.finish()
    assert event_ids(db_path) == [f"e{i}" for i in range(300)]
    assert report.invalid == 0 and follower.err.getvalue() == ""
    assert follower.batches >= 2  # committed as it arrived, not at the end


@pytest.mark.both_backends
def test_follow_reads_a_csv_feed_whose_header_came_first(db_path: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text("id,type,ticket,at,customer,priority,title,author\n")
    fol = Follower(db_path, feed)
    try:
        append(feed, 'e1,created,T-1,2026-11-27T08:00:00Z,acme,P2,"Printer, again",\n')
        wait_for(lambda: event_ids(db_path) == ["e1"], "the first CSV row")
        append(feed, "e2,reply,T-1,2026-11-27T08:05:00Z,,,,sam\n")
        wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "a CSV row appended later")
    finally:
        report = fol.finish()
    assert report.invalid == 0, fol.err.getvalue()


@pytest.mark.both_backends
def test_follow_refuses_a_missing_directory_a_directory_and_stdin(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    missing = tmp_path / "nodir" / "feed.jsonl"
    assert main(["--db", str(db_path), "import", "--follow", str(missing)], operator="tester") == 2
    assert capsys.readouterr().err == f"sladesk: {missing}: no such directory '{tmp_path / 'nodir'}'\n"
    assert main(["--db", str(db_path), "import", "--follow", str(tmp_path)], operator="tester") == 2
    assert capsys.readouterr().err == f"sladesk: {tmp_path}: is a directory, not an events file\n"
    assert main(["--db", str(db_path), "import", "--follow", "-"], operator="tester") == 2


@pytest.mark.both_backends
def test_follow_waits_for_a_file_that_does_not_exist_yet(db_path: Path, tmp_path: Path) -> None:
    feed = tmp_path / "later.jsonl"
    fol = Follower(db_path, feed)
    try:
        wait_for(lambda: "waiting for it" in fol.err.getvalue(), "the follower to say it waits")
        append(feed, created(1) + line(2))
        wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "the file, once it appears")
    finally:
        report = fol.finish()
    assert fol.err.getvalue() == f"sladesk: {feed}: no such file yet; waiting for it (interrupt to stop)\n"
    assert report.inserted == 2


def _start_as_a_background_job() -> None:
    # What a non-interactive shell does to `cmd &` (and nohup to SIGHUP): SIGINT
    # ignored, inherited across exec, and Python keeps it so.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.both_backends
def test_the_command_follows_until_interrupted(db_path: Path, feed: Path, stop_signal: int) -> None:
    """Interrupted (Ctrl-C) or stopped by a service manager, it ends cleanly (exit 0)
    after its batches, even started as a background job with SIGINT ignored."""
    give_roles(db_path, "feed", login_user())
    append(feed, created(1) + line(2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sladesk_tui", "--db", str(db_path), "import", "--follow", str(feed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_start_as_a_background_job,  # noqa: PLW1509 - no threads of ours run while it forks
    )
    said: list[str] = []
    try:
        # Each batch is said after its commit: wait for the words, not only the rows,
        # so the interrupt never lands between a commit and its line.
        said.append(read_line(proc, "the command to import the file"))
        assert len(event_ids(db_path)) == 2
        append(feed, line(3))
        said.append(read_line(proc, "the command to import an append"))
        assert len(event_ids(db_path)) == 3
    finally:
        proc.send_signal(stop_signal)
        try:
            out, err = proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()  # a follower that ignored the signal must not outlive the test
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert err == ""
    assert said + out.splitlines() == [
        f"imported 2 events (0 skipped as already present) from {feed}",
        f"imported 1 event (0 skipped as already present) from {feed}",
    ]


def read_line(proc: subprocess.Popen[str], what: str) -> str:
    """The child's next line of output, waiting at most DEADLINE_S for it."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=DEADLINE_S):
            pytest.fail(f"timed out waiting for {what}")
    return proc.stdout.readline().rstrip("\n")


# ---- a line must never stop the feed; rewrites; hostile names ------------------------


def test_tail_rereads_a_file_truncated_and_rewritten_longer(tmp_path: Path) -> None:
    f = tmp_path / "feed.jsonl"
    f.write_bytes(b"r1\nr2\nr3\n")
    tail = Tail(f)
    try:
        assert [x for _, x in tail.read()] == [b"r1\n", b"r2\n", b"r3\n"]
        f.write_bytes(b"")  # : > f
        append(f, "r4\n")  # echo r4 >> f
        assert [x for _, x in tail.read()] == [b"r4\n"]
        f.write_bytes(b"r5\nr6\nr7\n")  # (echo r5; echo r6; echo r7) > f: longer than before
        assert [x for _, x in tail.read()] == [b"r5\n", b"r6\n", b"r7\n"]
    finally:
        tail.close()


@pytest.mark.both_backends
def test_follow_imports_every_event_of_a_rewritten_file(
    db_path: Path, feed: Path, follower: Follower
) -> None:
    append(feed, created(1) + line(2) + line(3))
    wait_for(lambda: len(event_ids(db_path)) == 3, "the first lines")
    feed.write_text("")
    append(feed, line(4))
    wait_for(lambda: len(event_ids(db_path)) == 4, "r4")
    feed.write_text(line(5) + line(6) + line(7))
    wait_for(lambda: len(event_ids(db_path)) == 7, "r5, r6 and r7")
    assert sorted(event_ids(db_path)) == sorted(f"e{i}" for i in range(1, 8))


def test_an_instant_out_of_range_is_reported_and_the_feed_goes_on_after_a_restart(
    tmp_path: Path, feed: Path
) -> None:
    from tests.support import GOLD_24X7, fresh_db

    db = fresh_db(tmp_path / "gold.db", GOLD_24X7, actor="tester")
    far = json.dumps(
        {
            "id": "far",
            "type": "created",
            "ticket": "T-9",
            "customer": "acme",
            "priority": "P1",
            "title": "far",
            "at": "9999-12-31T22:00:00Z",
        }
    )
    early = far.replace('"far"', '"early"').replace("9999-12-31T22:00:00Z", "0001-01-01T00:00:00Z")
    append(feed, created(1) + far + "\n" + early + "\n" + line(2))

    def run_once() -> None:
        fol = Follower(db, feed)
        try:
            wait_for(lambda: event_ids(db) == ["e1", "e2"], "the lines after the bad ones")
            wait_for(lambda: fol.err.getvalue().count("\n") == 2, "both bad lines reported")
        finally:
            report = fol.finish()
        assert report.invalid == 2
        err = fol.err.getvalue().splitlines()
        assert err[0].startswith(f"sladesk: {feed}:2: field 'at': instant '9999-12-31T22:00:00Z' is outside")
        assert err[1].startswith(f"sladesk: {feed}:3: field 'at': instant '0001-01-01T00:00:00Z' is outside")

    run_once()
    run_once()  # a restarted follower reads the same lines again and survives them too


@pytest.mark.both_backends
def test_an_event_the_store_fails_on_is_reported_and_skipped(
    db_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sladesk_tui.store.follow as follow_mod

    real = follow_mod.ingest

    def failing(conn: sqlite3.Connection, events: list[object], **kw: object) -> object:
        if any(getattr(e, "id", None) == "e2" for e in events):
            raise OverflowError("date value out of range")
        return real(conn, events, **kw)  # type: ignore[arg-type]  # a stand-in for any store bug

    monkeypatch.setattr(follow_mod, "ingest", failing)
    append(feed, created(1) + line(2) + line(3))
    fol = Follower(db_path, feed)
    try:
        wait_for(lambda: event_ids(db_path) == ["e1", "e3"], "the events around the failing one")
    finally:
        report = fol.finish()
    assert fol.err.getvalue() == (
        f"sladesk: {feed}:2: not imported (OverflowError: date value out of range)\n"
    )
    assert report.invalid == 1 and report.inserted == 2


def test_follow_neutralises_control_characters_in_the_file_name(db_path: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "feed\x1b]52;c;SGVsbG8=\x07\u202e.jsonl"
    hostile.write_text(created(1) + "not json\n")
    fol = Follower(db_path, hostile)
    try:
        wait_for(lambda: event_ids(db_path) == ["e1"], "the good line")
        wait_for(lambda: "invalid JSON" in fol.err.getvalue(), "the bad line")
    finally:
        fol.finish()
    err = fol.err.getvalue()
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert "feed\u241b]52;c;SGVsbG8=\u2407\ufffd.jsonl:2: invalid JSON" in err
    c = sqlite3.connect(db_path)
    try:
        (source,) = c.execute("SELECT source FROM events").fetchone()
    finally:
        c.close()
    assert "\x1b" not in source and source.endswith("feed\u241b]52;c;SGVsbG8=\u2407\ufffd.jsonl")


@pytest.mark.both_backends
def test_a_line_the_parser_fails_on_is_reported_and_skipped(
    db_path: Path, feed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sladesk_tui.core.eventfile import EventReader

    real = EventReader.feed

    def failing(self: EventReader, line: str | bytes) -> object:
        if b'"e2"' in (line if isinstance(line, bytes) else line.encode()):
            self.line_no += 1
            raise RecursionError("maximum recursion depth exceeded")  # a stand-in for any parser bug
        return real(self, line)

    monkeypatch.setattr(EventReader, "feed", failing)
    append(feed, created(1) + line(2) + line(3))
    fol = Follower(db_path, feed)
    try:
        wait_for(lambda: event_ids(db_path) == ["e1", "e3"], "the lines around the failing one")
    finally:
        fol.finish()
    assert (
        fol.err.getvalue()
        == f"sladesk: {feed}:2: not read (RecursionError: maximum recursion depth exceeded)\n"
    )


# ---- PostgreSQL: a lost connection, a rule's refusal (store.failures) -------------------------

ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"])


def _as_owner(db_path: Path, sql: str) -> None:
    import psycopg

    with psycopg.connect(str(db_path), autocommit=True) as raw:
        raw.execute(sql.encode())


@ON_POSTGRESQL
def test_a_lost_connection_is_reopened_and_nothing_is_lost_or_doubled(
    db_path: Path, feed: Path, follower: Follower, pg_server: object
) -> None:
    append(feed, created(1) + line(2))
    wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "the first two events")
    with pg_server.admin() as admin:  # type: ignore[attr-defined]  # pg_support.PgServer
        # What a restart or an administrator does to the follower's session (the only
        # connection of this process open now).
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            (f"sladesk pid {os.getpid()}",),
        ).fetchone()[0]
    assert ended == 1
    append(feed, line(3) + line(4))
    wait_for(lambda: len(event_ids(db_path)) == 4, "the events after the connection was lost")
    append(feed, line(5))
    wait_for(lambda: len(event_ids(db_path)) == 5, "an event on the new connection")
    report = follower.finish()
    assert event_ids(db_path) == [f"e{i}" for i in range(1, 6)]
    assert report.inserted == 5
    err = follower.err.getvalue().splitlines()
    assert len(err) == 2, err
    assert err[0].startswith(f"sladesk: {feed}: lost the database connection (")
    assert err[0].endswith("); reconnecting") and "busy" not in err[0]
    assert err[1] == f"sladesk: {feed}: reconnected; storing the pending lines again"
    conn = connect(db_path, readonly=True)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


@ON_POSTGRESQL
@pytest.mark.parametrize(
    ("rule", "said"),
    [
        (  # a trigger's RAISE (SQLSTATE P0001)
            "CREATE FUNCTION no_e3() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'event % is not welcome', NEW.id; END$$;"
            " CREATE TRIGGER no_e3 BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.id = 'e3')"
            " EXECUTE FUNCTION no_e3()",
            "event e3 is not welcome",
        ),
        (  # a privilege taken away (SQLSTATE 42501): from every role that held it
            "DO $$DECLARE r record; BEGIN FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants"
            " WHERE table_schema = current_schema() AND table_name = 'events' AND privilege_type = 'INSERT'"
            " LOOP EXECUTE format('REVOKE INSERT ON events FROM %I', r.grantee); END LOOP; END$$",
            "permission denied",
        ),
    ],
    ids=["trigger-raise", "privilege-revoked"],
)
def test_a_rules_refusal_stops_the_follower_naming_the_line(
    db_path: Path, feed: Path, follower: Follower, rule: str, said: str
) -> None:
    from sladesk_tui.core.errors import Refused

    append(feed, created(1) + line(2))
    wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "the first two events")
    _as_owner(db_path, rule)
    append(feed, line(3) + line(4))
    follower.thread.join(DEADLINE_S)  # it stops by itself
    assert not follower.thread.is_alive(), (follower.err.getvalue(), event_ids(db_path))
    with pytest.raises(Refused) as caught:
        follower.finish()
    message = str(caught.value)
    assert message.startswith(f"{feed}:3: refused by the database") and said in message, message
    assert "\n" not in message
    assert follower.err.getvalue() == ""  # never "busy; retrying"
    assert event_ids(db_path) == ["e1", "e2"]  # nothing of the refused batch
    conn = connect(db_path, readonly=True)
    try:
        assert verify(conn).ok
    finally:
        conn.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_failing_database_stops_the_follower_and_loses_no_line(db_path: Path, feed: Path) -> None:
    """Not busy, not the line's fault (here the table is gone): neither retried for ever
    nor reported line by line and skipped, which would lose the lines; the follower
    stops, and once the database is right again a new one stores them."""
    fol = Follower(db_path, feed)
    append(feed, created(1) + line(2))
    wait_for(lambda: event_ids(db_path) == ["e1", "e2"], "the first two events")
    with sqlite3.connect(db_path) as raw:
        raw.execute("ALTER TABLE events RENAME TO events_away")
    append(feed, line(3) + line(4))
    fol.thread.join(DEADLINE_S)  # it stops by itself
    assert not fol.thread.is_alive()
    with pytest.raises(sqlite3.OperationalError, match="events"):
        fol.finish()
    assert "not imported" not in fol.err.getvalue() and "busy" not in fol.err.getvalue()
    with sqlite3.connect(db_path) as raw:
        raw.execute("ALTER TABLE events_away RENAME TO events")
    again = Follower(db_path, feed)
    try:
        wait_for(lambda: event_ids(db_path) == ["e1", "e2", "e3", "e4"], "the lines after the failure")
    finally:
        again.finish()
