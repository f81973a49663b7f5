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
    c = sqlite3.connect(db)
    try:
        return [r[0] for r in c.execute("SELECT id FROM events ORDER BY seq")]
    finally:
        c.close()


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


def test_follow_needs_an_existing_file(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    give_roles(db_path, "feed", "tester")
    assert main(["--db", str(db_path), "import", "--follow", str(tmp_path / "nope")], operator="tester") == 2
    assert capsys.readouterr().err == f"sladesk: {tmp_path / 'nope'}: no such file\n"
    assert main(["--db", str(db_path), "import", "--follow", "-"], operator="tester") == 2


def test_the_command_follows_until_interrupted(db_path: Path, feed: Path) -> None:
    give_roles(db_path, "feed", login_user())
    append(feed, created(1) + line(2))
    proc = subprocess.Popen(
        [sys.executable, "-m", "sladesk_tui", "--db", str(db_path), "import", "--follow", str(feed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(event_ids(db_path)) == 2, "the command to import the file")
        append(feed, line(3))
        wait_for(lambda: len(event_ids(db_path)) == 3, "the command to import an append")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    assert err == ""
    assert out.splitlines() == [
        f"imported 2 events (0 skipped as already present) from {feed}",
        f"imported 1 events (0 skipped as already present) from {feed}",
    ]
