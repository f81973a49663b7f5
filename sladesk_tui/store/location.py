"""Where the databases live when neither --db nor SLADESK_DB says (docs/database.md)."""

from __future__ import annotations

from pathlib import Path


def default_db_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("sladesk", appauthor=False) / "sladesk.db"


def demo_db_path() -> Path:
    """The demo's own file, beside the default database: `sladesk demo` writes nowhere else
    unless told with its own `--db`, so a team's $SLADESK_DB is never a demo's target."""
    return default_db_path().with_name("demo.db")
