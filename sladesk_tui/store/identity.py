"""Who is acting, and from where.

On SQLite the operator is the login account of the process (over SSH, the SSH
user), never `USER`/`LOGNAME` or a flag: those are anyone's to set, and the audit
log and the "nobody reviews their own override" rule rest on this name. On
PostgreSQL it is the role the server authenticated (``session_user``): the
database, not the client, says who is connected, and its triggers refuse any other
name on the record (docs/postgresql.md). `operator` is the one place that decides.
"""

from __future__ import annotations

import functools
import os
import pwd

from sladesk_tui.store.backend import Connection, dialect


def login_user() -> str:
    """The account name of the real uid; ``uid:N`` for an account without a passwd entry."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def operator(conn: Connection, claimed: str | None = None) -> str:
    """The name recorded as acting on `conn`'s records.

    SQLite: `claimed` (a test injecting a user below the command line) or the login
    account. PostgreSQL: the connection's ``session_user``, whatever was claimed.
    """
    return dialect(conn).operator(conn, claimed or login_user())


@functools.cache
def database_user(url: str) -> str:
    """``session_user`` of a PostgreSQL URL (asked once per process)."""
    from sladesk_tui.store.db import connect

    conn = connect(url)
    try:
        return operator(conn)
    finally:
        conn.close()


def client_source() -> str:
    """Where the operator sits: ``ssh:ADDRESS`` of the SSH client, else ``local``.

    Informational (the environment is the user's to change), recorded in the audit log.
    """
    for var in ("SSH_CONNECTION", "SSH_CLIENT"):
        parts = os.environ.get(var, "").split()
        if parts:
            return f"ssh:{parts[0]}"
    return "local"
