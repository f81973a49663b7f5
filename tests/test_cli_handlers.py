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
