"""Every subcommand the parser offers has a handler (`main` dispatches without a fallback)."""

from __future__ import annotations

import argparse

from sladesk_tui.cli import HANDLERS, build_parser


def test_every_subcommand_has_a_handler_and_no_handler_is_orphaned() -> None:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) | {"app"} == set(HANDLERS)
