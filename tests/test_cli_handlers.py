"""The command line's frame: every subcommand has a handler, and usage errors read cleanly."""

from __future__ import annotations

import argparse

from sladesk_tui.cli import HANDLERS, build_parser


def test_every_subcommand_has_a_handler_and_no_handler_is_orphaned() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) | {"app"} == set(HANDLERS)


def test_usage_errors_are_one_line_with_one_prefix(capsys) -> None:
    from sladesk_tui.cli import main

    assert main(["bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sladesk: argument COMMAND: invalid choice: 'bogus'") and err.count("\n") == 1
    assert main(["import"]) == 2
    assert capsys.readouterr().err == "sladesk: import: the following arguments are required: file\n"


def test_abbreviated_options_are_refused(tmp_path, capsys) -> None:
    """`--d=PATH` must not pass for `--db`: a wrapper filtering options sees one spelling only."""
    from sladesk_tui.cli import main

    db = tmp_path / "x.db"
    for argv in (
        ["--d=" + str(db), "queue"],
        ["--d", str(db), "queue"],
        ["queue", "--d=" + str(db)],
        ["queue", "--da", str(db)],
        ["audit", "verify", "--d=" + str(db)],
        ["role", "list", "--d=" + str(db)],
        ["demo", "--d=" + str(db), "--no-tui"],
        ["demo", "--db=" + str(db), "--no"],
        ["queue", "--at-r"],
        ["report", "--mon", "2026-11"],
        ["import", "--foll", "x.jsonl"],
        ["override", "T-1", "hold", "--reas", "other", "--justification", "x" * 20],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        # "--d" is never taken for --db: either it is left over, or its value is taken for the command.
        assert err.count("\n") == 1 and any(
            why in err
            for why in ("unrecognized arguments", "invalid choice", "arguments are required: --reason")
        ), (argv, err)
    assert not db.exists()
    # The exact spellings still work, with = or a separate word.
    assert main(["--db=" + str(db), "init"]) == 0
    assert main(["queue", "--db", str(db), "--at-risk"]) == 0
