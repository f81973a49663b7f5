"""Where the database lives: --db beats SLADESK_DB beats the user data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from sladesk_tui.cli import main


def test_precedence_of_db_flag_env_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # platformdirs' user data dir
    default, env, flag = (
        tmp_path / "xdg" / "sladesk" / "sladesk.db",
        tmp_path / "env.db",
        tmp_path / "flag.db",
    )

    monkeypatch.delenv("SLADESK_DB", raising=False)
    assert main(["init", "--lead", "ana"], operator="ana") == 0
    assert default.exists() and not env.exists()

    monkeypatch.setenv("SLADESK_DB", str(env))
    assert main(["init", "--lead", "ana"], operator="ana") == 0
    assert env.exists() and not flag.exists()

    assert main(["init", "--lead", "ana", "--db", str(flag)], operator="ana") == 0
    assert flag.exists()


@pytest.mark.parametrize(
    "argv",
    [
        (),  # the TUI
        ("load", "a.toml"),
        ("import", "e.jsonl"),
        ("import", "--follow", "e.jsonl"),
        ("override", "T-1", "exempt", "--reason", "customer_request", "--justification", "x" * 20),
        ("review", "1", "approve"),
        ("overrides",),
        ("lead", "list"),
        ("lead", "grant", "kim"),
        ("queue",),
        ("ticket", "T-1"),
        ("report",),
        ("audit", "verify"),
        ("audit", "head"),
    ],
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_only_init_creates_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv, how
) -> None:
    """A mistyped path is refused with the path and the command that makes it, and stays absent."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.toml").write_text('[[agreement]]\nid = "x"\ncustomer = "x"\ncalendar = "24x7"\n')
    (tmp_path / "e.jsonl").write_text(
        '{"id":"1","ticket":"T-1","at":"2026-11-02T10:00:00Z","type":"created","customer":"x",'
        '"priority":"P1","title":"t"}\n'
    )
    typo = tmp_path / "typo-team.db"
    if how == "env":
        monkeypatch.setenv("SLADESK_DB", str(typo))
        args = list(argv)
    else:
        monkeypatch.delenv("SLADESK_DB", raising=False)
        args = ["--db", str(typo), *argv]
    assert main(args, operator="ana") == 2
    out, err = capsys.readouterr()
    assert (
        err == f"sladesk: {typo}: no such database; create it with: sladesk init --db {typo} --admin USER\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "e.jsonl"]


@pytest.mark.parametrize("argv", [(), ("queue",), ("lead", "list"), ("init",), ("demo", "--no-tui")])
def test_a_directory_given_as_the_database_is_named_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """Not SQLite's "disk I/O error": the path is a directory, and the file to give instead."""
    if argv[:1] == ("demo",):
        code = main([*argv, "--db", str(tmp_path)], operator="ana")
    else:
        code = main(["--db", str(tmp_path), *argv], operator="ana")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "is a directory" in err and "disk I/O" not in err
