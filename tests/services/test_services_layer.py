"""Long-running services sit beside the TUI, never on it: no Textual, no tui imports."""

from __future__ import annotations

import ast
import pathlib

SERVICES = pathlib.Path(__file__).resolve().parents[2] / "sladesk_tui" / "services"


def test_services_never_import_textual_or_the_tui() -> None:
    bad = []
    for path in sorted(SERVICES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [
                f"{path.name} imports {n}"
                for n in names
                if n.split(".")[0] in ("textual", "rich") or n.startswith("sladesk_tui.tui")
            ]
    assert (SERVICES / "notifier.py").exists()
    assert bad == []
