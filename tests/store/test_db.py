"""Connections, migrations and the append-only triggers, on real SQLite files."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support import give_roles

from sladesk_tui.core.errors import InputError
from sladesk_tui.store.audit import append_audit
from sladesk_tui.store.db import connect, migrate, migrations, open_db, schema_dir, schema_version, write_tx
from sladesk_tui.store.identity import login_user

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "tickets",
    "events",
    "overrides",
    "reviews",
    "role_grants",
    "desk_settings",
    "audit_log",
    "agreement_versions",
    "agreements",
    "schema_migrations",
}


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# ---- connections --------------------------------------------------------------------


def test_connection_settings(conn: sqlite3.Connection) -> None:
    pragma = lambda name: conn.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731 - a one-line local helper
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2  # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("recursive_triggers") == 1
    assert pragma("busy_timeout") == 10_000
    assert conn.isolation_level is None
    assert conn.execute("SELECT 1 AS one").fetchone()["one"] == 1


@pytest.mark.both_backends
def test_write_tx_commits_or_rolls_back(conn: sqlite3.Connection) -> None:
    # "user" quoted: unquoted, PostgreSQL reads it as current_user.
    with write_tx(conn):
        conn.execute(
            "INSERT INTO role_grants (\"user\", role, action, by_user, ts, at) VALUES ('a','lead','grant','b',0,'x')"
        )
    with pytest.raises(ZeroDivisionError), write_tx(conn):
        conn.execute(
            "INSERT INTO role_grants (\"user\", role, action, by_user, ts, at) VALUES ('c','lead','grant','b',0,'x')"
        )
        1 / 0
    assert not conn.in_transaction
    assert [r["user"] for r in conn.execute('SELECT "user" FROM role_grants')] == ["a"]


@pytest.mark.both_backends
def test_readonly_connection_cannot_write(db_path: Path) -> None:
    ro = connect(db_path, readonly=True)
    try:
        assert ro.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
            ro.execute(
                "INSERT INTO role_grants (\"user\", role, action, by_user, ts, at) VALUES ('a','lead','grant','b',0,'x')"
            )
    finally:
        ro.close()


def test_readonly_connect_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such database"):
        connect(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()


def test_open_db_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "team.db"
    open_db(path, create=True).close()
    assert path.is_file()


@pytest.mark.parametrize("readonly", [False, True])
def test_a_missing_database_is_refused_with_the_command_that_makes_one(
    tmp_path: Path, readonly: bool
) -> None:
    """Only `create=True` (init, demo) makes a file: a mistyped path must not become an empty desk."""
    path = tmp_path / "typo dir" / "typo-team.db"
    with pytest.raises(InputError) as exc:
        connect(path, readonly=readonly)
    assert (
        str(exc.value) == f"{path}: no such database; create it with: sladesk init --db '{path}' --admin USER"
    )
    with pytest.raises(InputError, match="no such database"):
        open_db(path)
    assert not path.parent.exists()


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    for readonly in (False, True):
        with pytest.raises(InputError, match=r"is a directory, not a database file; give the file \(for"):
            connect(tmp_path, readonly=readonly)
    with pytest.raises(InputError, match="is a directory"):
        open_db(tmp_path, create=True)


def test_not_a_database_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not sqlite, just some text that is long enough to be a header" * 10)
    with pytest.raises(InputError, match="not a usable sladesk database"):
        open_db(path)


# ---- migrations ---------------------------------------------------------------------


def test_fresh_database_is_migrated(conn: sqlite3.Connection) -> None:
    assert TABLES <= _tables(conn)
    assert schema_version(conn) == len(migrations())
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in migrations()]


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    for _ in range(3):
        c = open_db(db_path)
        c.close()
    c = connect(db_path)
    assert c.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(migrations())
    c.close()


def _copy_schema(tmp_path: Path, extra: dict[str, str]) -> Path:
    d = tmp_path / "schema"
    d.mkdir()
    for f in schema_dir().glob("*.sql"):
        shutil.copy(f, d / f.name)
    for name, sql in extra.items():
        (d / name).write_text(sql)
    return d


def test_new_migrations_apply_in_order_and_are_recorded(tmp_path: Path) -> None:
    n = len(migrations())
    d = _copy_schema(
        tmp_path,
        {
            f"{n + 1:04d}_add_notes.sql": "CREATE TABLE notes (x TEXT); -- a comment; with a semicolon\n",
            f"{n + 2:04d}_fill_notes.sql": "INSERT INTO notes VALUES ('a;b');\nCREATE TRIGGER t AFTER INSERT ON notes BEGIN SELECT 1; SELECT 2; END;\n-- trailing comment",
        },
    )
    conn = open_db(tmp_path / "x.db", create=True)
    assert migrate(conn, d) == n + 2
    assert migrate(conn, d) == n + 2  # nothing left to do
    assert conn.execute("SELECT x FROM notes").fetchall()[0][0] == "a;b"
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert names[-2:] == ["add_notes", "fill_notes"]
    conn.close()


def test_failing_migration_changes_nothing(tmp_path: Path) -> None:
    n = len(migrations())
    d = _copy_schema(tmp_path, {f"{n + 1:04d}_broken.sql": "CREATE TABLE half (x);\nTHIS IS NOT SQL;\n"})
    conn = open_db(tmp_path / "x.db", create=True)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, d)
    assert "half" not in _tables(conn)
    assert schema_version(conn) == n
    conn.close()


def test_gap_in_migration_numbers_is_refused(tmp_path: Path) -> None:
    far = len(migrations()) + 2  # one number skipped after the newest migration, whichever it is
    d = _copy_schema(tmp_path, {f"{far:04d}_far.sql": "SELECT 1;"})
    with pytest.raises(RuntimeError, match="not numbered"):
        migrations(d)


def test_database_newer_than_the_program_is_refused(db_path: Path) -> None:
    c = connect(db_path)
    c.execute("PRAGMA user_version = 99")
    c.close()
    with pytest.raises(InputError, match="newer"):
        open_db(db_path)


def _first_open(path: str, barrier: mp.synchronize.Barrier, results: mp.Queue) -> None:
    barrier.wait()
    c = open_db(path, create=True)
    try:
        results.put(c.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0])
    finally:
        c.close()


def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    path = str(tmp_path / "new.db")
    n = 6
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_first_open, args=(path, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * n
    assert [results.get(timeout=5) for _ in range(n)] == [len(migrations())] * n
    c = connect(path)
    assert [r[0] for r in c.execute("SELECT version FROM schema_migrations")] == [
        m.version for m in migrations()
    ]
    c.close()


# ---- append-only tables -------------------------------------------------------------

_SAMPLE_ROWS = {
    "agreement_versions": "INSERT INTO agreement_versions VALUES (1, 'x', 0, 'u', 'f', 'h', 't')",
    "agreements": "INSERT INTO agreements VALUES (1, 'a', 'A', 'acme', '[]', '24x7', NULL, NULL)",
    "events": "INSERT INTO events (id, type, ticket, ts, at, digest, actor, source, recorded_at)"
    " VALUES ('e1', 'created', 'T-1', 0, 'x', 'd', 'u', 's', 'x')",
    "overrides": "INSERT INTO overrides (ticket, kind, ts, at, reason, justification, operator, before_json, after_json)"
    " VALUES ('T-1', 'hold', 0, 'x', 'other', 'justified at length', 'u', '{}', '{}')",
    "reviews": "INSERT INTO reviews (override_id, decision, reviewer, ts, at) VALUES (1, 'approved', 'lead', 0, 'x')",
    "role_grants": "INSERT INTO role_grants (user, role, action, by_user, ts, at) VALUES ('u', 'lead', 'grant', 'v', 0, 'x')",
    "desk_settings": "INSERT INTO desk_settings (key, value, by_user, ts, at) VALUES ('local-actions', 'off', 'v', 0, 'x')",
}
APPEND_ONLY = [*_SAMPLE_ROWS, "audit_log"]


@pytest.fixture
def filled(conn: sqlite3.Connection) -> sqlite3.Connection:
    with write_tx(conn):
        conn.execute(
            "INSERT INTO tickets (id, customer, title, priority, status, created_ts, updated_ts)"
            " VALUES ('T-1', 'acme', 't', 'P1', 'new', 0, 0)"
        )
        for sql in _SAMPLE_ROWS.values():
            conn.execute(sql)
        append_audit(conn, actor="u", action="test", subject="s")
    return conn


def _first_row(conn: sqlite3.Connection, table: str) -> sqlite3.Row:
    return conn.execute(f"SELECT rowid AS rid, * FROM {table} LIMIT 1").fetchone()


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_update_is_refused(filled: sqlite3.Connection, table: str) -> None:
    col = filled.execute(f"PRAGMA table_info({table})").fetchall()[1]["name"]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        filled.execute(f"UPDATE {table} SET {col} = {col}")


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_delete_is_refused(filled: sqlite3.Connection, table: str) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        filled.execute(f"DELETE FROM {table}")
    assert filled.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 1


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_insert_or_replace_is_refused(filled: sqlite3.Connection, table: str) -> None:
    row = _first_row(filled, table)
    cols = [k for k in row.keys() if k != "rid"]
    before = tuple(row)
    with pytest.raises(sqlite3.IntegrityError, match="append-only|head"):
        filled.execute(
            f"INSERT OR REPLACE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            tuple(row[c] for c in cols),
        )
    assert tuple(_first_row(filled, table)) == before


def test_tickets_projection_is_updatable(filled: sqlite3.Connection) -> None:
    with write_tx(filled):
        filled.execute("UPDATE tickets SET status = 'open' WHERE id = 'T-1'")
    assert filled.execute("SELECT status FROM tickets").fetchone()[0] == "open"


# ---- files on disk ------------------------------------------------------------------

_GROUP_CODE = """
import os, stat, sys
from sladesk_tui.store.db import open_db, write_tx
path = sys.argv[1]
conn = open_db(path, create=True)
with write_tx(conn):
    conn.execute("INSERT INTO role_grants (user, role, action, by_user, ts, at) VALUES ('u','lead','grant','v',0,'x')")
for suffix in ("", "-wal", "-shm"):
    print(suffix or "db", oct(stat.S_IMODE(os.stat(path + suffix).st_mode)))
conn.close()
"""


@pytest.mark.parametrize(("umask", "group_writable"), [(0o002, True), (0o022, False)])
def test_new_files_honour_the_umask(tmp_path: Path, umask: int, group_writable: bool) -> None:
    path = tmp_path / "team" / "sladesk.db"
    out = subprocess.run(
        [sys.executable, "-c", _GROUP_CODE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        preexec_fn=lambda: os.umask(umask),
    ).stdout.split("\n")
    modes = dict(line.split() for line in out if line)
    assert set(modes) == {"db", "-wal", "-shm"}
    for name, mode in modes.items():
        assert bool(int(mode, 8) & stat.S_IWGRP) is group_writable, (name, mode)
        assert not int(mode, 8) & stat.S_IWOTH, (name, mode)


# ---- packaging ----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build the wheel")
def test_installed_wheel_finds_its_migrations(tmp_path: Path) -> None:
    """A non-editable install has no checkout: migrations must come from the package."""
    subprocess.run(
        ["uv", "build", "--wheel", "-q", "-o", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wheel = next((tmp_path / "dist").glob("*.whl"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        assert "sladesk_tui/_schema/0001_initial.sql" in zf.namelist()
        zf.extractall(site)
    code = (
        "import sladesk_tui, sys\n"
        "from sladesk_tui.store.db import open_db, schema_dir\n"
        "assert sladesk_tui.__file__.startswith(sys.argv[2]), sladesk_tui.__file__\n"
        "print(schema_dir())\n"
        "print(open_db(sys.argv[1], create=True).execute('SELECT COUNT(*) FROM schema_migrations').fetchone()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x.db"), str(site)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
    ).stdout.split()
    assert out == [str(site / "sladesk_tui" / "_schema"), str(len(migrations()))]


def test_readonly_connect_refuses_a_file_without_the_schema(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "empty.db").close()
    (tmp_path / "empty.db").touch()
    with pytest.raises(InputError, match="no sladesk schema"):
        connect(tmp_path / "empty.db", readonly=True)


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_side_file_is_refused_and_left_alone(tmp_path: Path, suffix: str) -> None:
    side = tmp_path / f"team.db{suffix}"
    side.write_bytes(b"")
    with pytest.raises(InputError, match="side files"):
        connect(side)
    assert side.read_bytes() == b""


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_link_to_a_side_file_is_refused_by_its_resolved_name(tmp_path: Path, suffix: str) -> None:
    live = tmp_path / "data" / f"team.db{suffix}"
    live.parent.mkdir()
    live.write_bytes(b"live")
    for link in (tmp_path / "w.db", tmp_path / "dangling.db"):
        link.symlink_to(live if link.name == "w.db" else tmp_path / "data" / f"gone.db{suffix}")
        for readonly in (False, True):
            with pytest.raises(InputError, match="side files"):
                connect(link, readonly=readonly)
            with pytest.raises(InputError, match="side files"):
                open_db(link)
    assert live.read_bytes() == b"live"
    assert sorted(p.name for p in live.parent.iterdir()) == [live.name]


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_a_path_to_anything_but_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        target = tmp_path / "dir.db"
        target.mkdir()
    elif kind == "fifo":
        target = tmp_path / "pipe.db"
        os.mkfifo(target)
    else:
        target = Path("/dev/null")
    link = tmp_path / "link.db"
    link.symlink_to(target)
    said = "is a directory, not a database file" if kind == "directory" else "not a regular file"
    for path in (target, link):
        with pytest.raises(InputError, match=said):
            connect(path)
        with pytest.raises(InputError, match=said):
            connect(path, readonly=True)


def test_an_unreachable_folder_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a folder without x permission; tests/unix/ checks the real thing as a real user.
    def denied(self: Path, **_: object) -> os.stat_result:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "stat", denied)
    with pytest.raises(InputError, match="cannot reach the database: Permission denied"):
        connect(tmp_path / "x.db", readonly=True)


def _without_file_permission_override() -> list[str]:
    """A command prefix under which file modes bind: root ignores them unless it drops
    the capabilities that override them (util-linux `setpriv`, in every Debian)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        if os.environ.get("CI") == "true":
            pytest.fail("setpriv (util-linux) is missing: cannot test file modes as root")
        pytest.skip("running as root without setpriv: file modes do not bind")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.mark.parametrize("argv", [("queue",), ("report",), ("load", "x.toml"), ("lead", "list")])
def test_a_database_in_a_read_only_directory_says_what_is_wrong_and_what_to_do(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    """SQLite says "attempt to write a readonly database" to a mere reader: it must create
    the -wal/-shm files beside the database. The file is fine; the directory is not."""
    prefix = _without_file_permission_override()
    d = tmp_path / "team"
    path = d / "team.db"
    open_db(path, create=True).close()  # the last close removes -wal and -shm
    d.chmod(0o555)
    try:
        r = subprocess.run(
            [*prefix, sys.executable, "-m", "sladesk_tui", *argv, "--db", str(path)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "SLADESK_DB"},
        )
    finally:
        d.chmod(0o755)
    assert r.returncode == 2, r.stderr
    assert r.stderr == (
        f"sladesk: {path}: cannot open the database: SQLite must create team.db-wal and team.db-shm"
        f" beside it (even to read), and you may not write to {d}; give the team's group write"
        " access to that directory (docs/deployment.md), or work on a copy in a directory of your own\n"
    )
    assert sorted(p.name for p in d.iterdir()) == ["team.db"]


def test_a_read_only_database_file_says_nothing_was_written(tmp_path: Path) -> None:
    prefix = _without_file_permission_override()
    path = tmp_path / "team.db"
    give_roles(path, "admin", login_user())  # creates it; load needs the admin role
    toml = tmp_path / "a.toml"
    toml.write_text(
        '[[agreement]]\nid = "x"\ncustomer = "x"\ncalendar = "24x7"\n[agreement.targets]\nP1 = { response = "1h" }\n',
        encoding="utf-8",
    )
    path.chmod(0o444)
    r = subprocess.run(
        [*prefix, sys.executable, "-m", "sladesk_tui", "load", str(toml), "--db", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr == (
        f"sladesk: {path}: nothing was written: the database file is read-only for you; writers"
        " need write access to the file and its directory (docs/deployment.md)\n"
    )
