"""Where the database lives when neither --db nor SLADESK_DB says."""

from __future__ import annotations

from pathlib import Path


def default_db_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("sladesk", appauthor=False) / "sladesk.db"
