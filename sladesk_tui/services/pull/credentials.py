"""The pull's credentials: a secret file read safely and the provider's Authorization header (docs/pull.md)."""

from __future__ import annotations

import base64
import os
import stat

from sladesk_tui.core.errors import InputError
from sladesk_tui.core.sources.pull_config import PullConfig


def read_secret(path: str) -> str:
    """A credentials file's first line; refused when group or others may read it."""
    try:
        st = os.stat(path)
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(f"{path}: credentials file is readable by others; chmod 600 it")
        with open(path, encoding="utf-8") as fh:
            value = fh.readline().strip()
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if not value:
        raise InputError(f"{path}: credentials file is empty")
    return value


def auth_header(cfg: PullConfig) -> str:
    """A token file: RT `token T`, Zammad `Token token=T`, else `Bearer T` (Jira Data
    Center, a Zendesk OAuth token); or HTTP basic from user and password file (Zendesk:
    user `EMAIL/token` with the API token as the password). docs/pull.md per provider."""
    if cfg.token_file is not None:
        token = read_secret(cfg.token_file)
        if cfg.provider == "rt":
            return f"token {token}"
        return f"Token token={token}" if cfg.provider == "zammad" else f"Bearer {token}"
    assert cfg.user is not None and cfg.password_file is not None
    pair = f"{cfg.user}:{read_secret(cfg.password_file)}".encode()
    return "Basic " + base64.b64encode(pair).decode()
