"""A write that waits too long for the lock says that nothing was written, and who holds it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from backends import person
from support import give_roles

from sladesk_tui.cli import main
from sladesk_tui.store import db as store_db
from sladesk_tui.store.backend import is_postgres, redacted
from sladesk_tui.store.db import DatabaseBusy, open_db, write_tx

HOLD = """
import sys
from sladesk_tui.store.db import connect, write_tx
conn = connect(sys.argv[1])
with write_tx(conn):
    print("holding", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def held(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the write lock of `db_path` until the test ends (ana may load)."""
    give_roles(db_path, "admin", "ana")
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "holding\n"
        yield child
    finally:
        child.communicate(timeout=30)


@pytest.mark.both_backends
def test_write_tx_gives_up_cleanly_naming_the_holder(
    db_path: Path, held: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.3)
    conn = open_db(db_path)
    try:
        with pytest.raises(DatabaseBusy) as exc:
            with write_tx(conn):
                pytest.fail("the lock was granted")
        assert not conn.in_transaction
    finally:
        conn.close()
    text = str(exc.value)
    assert text.startswith(
        f"{redacted(str(db_path))}: nothing was written: the database stayed busy for 0.3 s"
    )
    if is_postgres(db_path):  # the server names the role and the client's pid
        assert (
            f"(the write lock is held by {person(db_path, 'x')} (sladesk pid {held.pid} on 127.0.0.1))"
            in text
        )
    else:
        assert f"(the write lock is held by pid {held.pid} (" in text and " -c " in text
    assert text.endswith("; try again")
    assert "OperationalError" not in text


@pytest.mark.both_backends
def test_the_command_line_says_it_in_one_line(
    db_path: Path,
    held: subprocess.Popen[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.3)
    toml = tmp_path / "a.toml"
    toml.write_text(
        '[[agreement]]\nid = "x"\ncustomer = "x"\ncalendar = "24x7"\n[agreement.targets]\nP1 = { response = "1h" }\n',
        encoding="utf-8",
    )
    assert main(["--db", str(db_path), "load", str(toml)], operator="ana") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nothing was written" in err and f"pid {held.pid}" in err
    assert "database is locked" not in err
