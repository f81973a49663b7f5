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
