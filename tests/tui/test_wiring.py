"""How the TUI is wired, checked: screens never import each other nor the app.

Navigation goes through messages handled by the app (`tui.messages`), shared code
through `tui.helpers` (docs/tui.md). A screen package (the ticket screen and its
dialogs) may import inside itself.
"""

from __future__ import annotations

import ast
import pathlib

TUI = pathlib.Path(__file__).resolve().parents[2] / "sladesk_tui" / "tui"
SCREENS = TUI / "screens"


def _runtime_imports(path: pathlib.Path) -> set[str]:
    """Modules imported outside `if TYPE_CHECKING:` blocks (those are for types only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _screen_of(path: pathlib.Path) -> str:
    rel = path.relative_to(SCREENS)
    return rel.parts[0].removesuffix(".py")


def test_screens_never_import_each_other_nor_the_app() -> None:
    modules = sorted(SCREENS.rglob("*.py"))
    assert len(modules) >= 8
    bad = []
    for path in modules:
        own = _screen_of(path)
        for name in _runtime_imports(path):
            if name == "sladesk_tui.tui.app":
                bad.append(f"{path.relative_to(TUI)} imports the app")
            prefix = "sladesk_tui.tui.screens."
            if name.startswith(prefix) and name.removeprefix(prefix).split(".")[0] != own:
                bad.append(f"{path.relative_to(TUI)} imports {name}")
    assert bad == []


def test_the_checker_sees_a_runtime_import_and_skips_a_typing_one(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "x.py"
    f.write_text(
        "from typing import TYPE_CHECKING\n"
        "from sladesk_tui.tui.screens.queue import QueueScreen\n"
        "if TYPE_CHECKING:\n    from sladesk_tui.tui.app import SladeskApp\n"
    )
    assert _runtime_imports(f) == {"typing", "sladesk_tui.tui.screens.queue"}


def test_one_typed_accessor_for_the_app() -> None:
    offenders = [
        str(p.relative_to(TUI))
        for p in sorted(TUI.rglob("*.py"))
        if 'cast("SladeskApp"' in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
