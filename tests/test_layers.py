"""The layering rule: core is pure, store never imports the TUI, lookups never load Textual."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[1] / "sladesk_tui"


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, banned: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted((PKG / folder).rglob("*.py")):
        for name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                bad.append(f"{path.relative_to(PKG)} imports {name}")
    return bad


def test_core_is_pure() -> None:
    banned = (
        "textual",
        "rich",
        "sqlite3",
        "sqlite_utils",
        "sladesk_tui.store",
        "sladesk_tui.tui",
        "sladesk_tui.cli",
    )
    assert _offenders("core", banned) == []


def test_core_never_reads_the_system_clock() -> None:
    bad = []
    for path in sorted((PKG / "core").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("datetime.now(", "pendulum.now(", "time.time(", "date.today(", "utcnow("):
            if needle in text:
                bad.append(f"{path.name}: {needle}")
    assert bad == []


def test_store_does_not_import_the_tui() -> None:
    assert _offenders("store", ("textual", "sladesk_tui.tui", "sladesk_tui.cli")) == []


def test_psycopg_is_imported_by_the_postgresql_adapter_only() -> None:
    """The rest of the program talks to PostgreSQL through `store.pg` (docs/postgresql.md),
    so a SQLite lookup never loads the driver."""
    users = {
        str(path.relative_to(PKG))
        for path in PKG.rglob("*.py")
        if any(n == "psycopg" or n.startswith("psycopg.") for n in _imports(path))
    }
    assert users == {"store/pg.py"}


def test_the_checker_catches_an_offender(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import sqlite3\nfrom textual.app import App\n")
    assert {"sqlite3", "textual.app"} <= _imports(f)


def test_help_runs_without_textual() -> None:
    code = (
        "import sys\n"
        "from sladesk_tui.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'textual' not in sys.modules, 'textual imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_services_never_import_the_tui_or_textual() -> None:
    assert _offenders("services", ("textual", "rich", "sladesk_tui.tui")) == []
