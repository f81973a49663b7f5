"""Input at the edges through the command: instants outside the accepted window, the
one typed-instant syntax, hostile file names, UTF-16 files, nested TOML, `--skip-invalid`
exit status and events given before their ticket's `created` line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import GOLD_24X7, fresh_db, give_roles

from sladesk_tui.cli import main
from sladesk_tui.store.identity import login_user


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv), operator="sam")
    out, err = capsys.readouterr()
    return rc, out, err


def ev(i: str, etype: str, at: str, ticket: str = "T-1", **fields: str) -> str:
    d = {"id": i, "type": etype, "ticket": ticket, "at": at, **fields}
    if etype == "created":
        d.update(customer="acme", priority="P1", title="printer on fire")
    return json.dumps(d) + "\n"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = fresh_db(tmp_path / "gold.db", GOLD_24X7, actor="sam")
    give_roles(path, "feed", "sam", login_user())
    give_roles(path, "admin", "sam")
    return path


def count(db: Path, sql: str = "SELECT COUNT(*) FROM events") -> int:
    c = sqlite3.connect(db)
    try:
        return int(c.execute(sql).fetchone()[0])
    finally:
        c.close()


@pytest.mark.parametrize("at", ["9999-12-31T22:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"])
def test_an_instant_outside_the_window_is_a_file_line_error(
    db: Path, tmp_path: Path, at: str, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ev.jsonl"
    f.write_text(ev("e1", "created", "2026-11-27T08:00:00Z") + ev("e2", "created", at, ticket="T-2"))
    rc, out, err = run(capsys, "--db", str(db), "import", str(f))
    assert (rc, out) == (2, "")
    assert err.startswith(
        f"sladesk: {f}:2: field 'at': instant '{at}' is outside the instants sladesk accepts"
    )
    assert count(db) == 0


def test_the_window_edges_are_accepted(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ev.jsonl"
    f.write_text(
        ev("e1", "created", "1970-01-01T00:00:00Z")
        + ev("e2", "created", "2199-12-31T23:59:59Z", ticket="T-2")
    )
    rc, _, err = run(capsys, "--db", str(db), "import", str(f))
    assert rc == 0, err
    rc, out, err = run(capsys, "--db", str(db), "ticket", "T-2", "--format", "json")
    assert rc == 0, err
    assert json.loads(out)["id"] == "T-2"


@pytest.mark.parametrize(
    "argv",
    [
        ["queue", "--at", "9999-12-31T23:59Z"],
        ["ticket", "T-1", "--at", "9999-12-31T23:59Z"],
        ["report", "--at", "0001-01-01T00:00Z"],
        ["report", "--month", "9999-12"],
        ["report", "--month", "0000-01"],
        ["report", "--from", "0001-01-01", "--to", "2026-01-01"],
        ["overrides", "--since", "9999-01-01"],
        ["queue", "--at=+99999h"],
    ],
    ids=lambda a: " ".join(a),
)
def test_lookups_refuse_instants_outside_the_window_in_one_line(
    db: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = run(capsys, "--db", str(db), *argv)
    assert (rc, out) == (2, "")
    assert len(err.splitlines()) == 1 and ("outside" in err or "too long" in err), err


def test_at_takes_the_same_syntax_as_override_until(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ev.jsonl"
    f.write_text(ev("e1", "created", "2026-11-27T08:00:00Z"))
    assert run(capsys, "--db", str(db), "import", str(f))[0] == 0
    for at in ("now", "-1h", "+2h", "2026-11-28", "2026-11-28T08:00:00+01:00"):
        rc, out, err = run(capsys, "--db", str(db), "queue", f"--at={at}", "--format", "json")
        assert rc == 0, (at, err)
        assert [row["id"] for row in json.loads(out)] == ["T-1"], at


def test_validity_dates_outside_the_window_are_refused(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "far.toml"
    f.write_text(GOLD_24X7.replace('calendar = "24x7"', 'calendar = "24x7"\nvalid_until = 9999-12-31'))
    rc, _, err = run(capsys, "--db", str(db), "load", str(f))
    assert rc == 2
    assert "valid_until: 9999-12-31 is outside the years sladesk accepts (1970 to 2199)" in err


def test_a_deeply_nested_toml_file_is_one_line_error(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    rc, out, err = run(capsys, "--db", str(db), "load", str(f))
    assert (rc, out) == (2, "")
    assert err == f"sladesk: {f}:1: arrays or tables nested more than 32 deep\n"


def test_brackets_inside_toml_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    from sladesk_tui.store.agreements import toml_too_deep

    text = "a = \"[[[[[[\" # [[[[[[[[\nb = '''\n[[[[[[[[\n'''\nc = \"\\\"[[[[[\"\nd = [[[1]]]\n"
    assert toml_too_deep(text, 3) is None
    assert toml_too_deep(text, 2) == 6


def test_a_utf16_events_file_is_said_to_be_not_utf8(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ev.jsonl"
    f.write_bytes(ev("e1", "created", "2026-11-27T08:00:00Z").encode("utf-16"))
    rc, _, err = run(capsys, "--db", str(db), "import", str(f))
    assert rc == 2
    assert err == f"sladesk: {f}:1: not UTF-8 text (it looks like UTF-16: export or save the file as UTF-8)\n"


def test_skip_invalid_tells_scripts_that_lines_were_skipped(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(ev("e1", "created", "2026-11-27T08:00:00Z"))
    assert run(capsys, "--db", str(db), "import", "--skip-invalid", str(good))[0] == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(ev("e2", "reply", "2026-11-27T09:00:00Z") + "not json\n")
    rc, out, _ = run(capsys, "--db", str(db), "import", "--skip-invalid", str(bad))
    assert rc == 3
    assert out.startswith("imported 1 events")


def test_a_reply_before_its_created_line_applies_in_at_order(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "ev.jsonl"
    f.write_text(
        ev("r1", "reply", "2026-11-27T08:10:00Z")  # the replies export, concatenated first
        + ev("n1", "note", "2026-11-27T08:10:00Z")
        + ev("c1", "created", "2026-11-27T08:00:00Z")  # then the tickets export
    )
    rc, out, err = run(capsys, "--db", str(db), "import", str(f))
    assert rc == 0, err
    assert out == f"imported 3 events (0 skipped as already present) from {f}\n"
    c = sqlite3.connect(db)
    try:
        assert [r[0] for r in c.execute("SELECT id FROM events ORDER BY seq")] == ["r1", "n1", "c1"]
    finally:
        c.close()
    rc, out, _ = run(
        capsys, "--db", str(db), "ticket", "T-1", "--format", "json", "--at", "2026-11-27T09:00Z"
    )
    assert json.loads(out)["clocks"]["response"]["state"] == "met"


def test_hostile_file_names_reach_neither_the_terminal_nor_the_database_raw(db: Path, tmp_path: Path) -> None:
    name = tmp_path / "ev\x1b]52;c;SGk=\x07\u202etxt.jsonl"
    name.write_text(ev("e1", "created", "2026-11-27T08:00:00Z") + ev("e2", "reply", "bad"))
    argv = [sys.executable, "-m", "sladesk_tui", "--db", str(db), "import", "--skip-invalid", str(name)]
    r = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 3, r.stderr
    for stream in (r.stdout, r.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "ev\u241b]52;c;SGk=\u2407\ufffdtxt.jsonl:2: field 'at'" in r.stderr
    assert r.stdout.endswith("ev\u241b]52;c;SGk=\u2407\ufffdtxt.jsonl\n")
    c = sqlite3.connect(db)
    try:
        (source,) = c.execute("SELECT source FROM events").fetchone()
    finally:
        c.close()
    assert "\x1b" not in source and "\u202e" not in source
