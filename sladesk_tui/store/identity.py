"""Who is acting, and from where, as the operating system says.

The operator is the login account of the process (over SSH, the SSH user), never
`USER`/`LOGNAME` or a flag: those are anyone's to set, and the audit log and the
"nobody reviews their own override" rule rest on this name.
"""

from __future__ import annotations

import os
import pwd


def login_user() -> str:
    """The account name of the real uid; ``uid:N`` for an account without a passwd entry."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


def client_source() -> str:
    """Where the operator sits: ``ssh:ADDRESS`` of the SSH client, else ``local``.

    Informational (the environment is the user's to change), recorded in the audit log.
    """
    for var in ("SSH_CONNECTION", "SSH_CLIENT"):
        parts = os.environ.get(var, "").split()
        if parts:
            return f"ssh:{parts[0]}"
    return "local"
