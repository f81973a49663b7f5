"""Who holds a database's write lock, for the message of a write that waited too long.

"database is locked" says neither that nothing was written nor who is in the way.
In WAL mode SQLite's write lock is a POSIX lock on byte 120 of the ``-shm`` file
(the WAL write lock), so Linux's ``/proc/locks`` names the process that holds it,
and ``/proc/PID`` its owner and command line. Best effort: elsewhere, or when the
holder let go meanwhile, the message simply says "another process"
(docs/database.md).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from sladesk_tui.core.text import safe_text

WAL_WRITE_LOCK_BYTE = 120  # WALINDEX_LOCK_OFFSET + WAL_WRITE_LOCK in SQLite's wal.c
_COMMAND_CHARS = 80


def write_lock_holder(db_path: str | os.PathLike[str]) -> str | None:
    """ "pid N (USER: COMMAND)" of the process holding the write lock on `db_path`, if known."""
    shm = Path(f"{db_path}-shm")
    try:
        st = shm.stat()
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        # "9: POSIX  ADVISORY  WRITE 10125 fe:00:2162982 120 120" (blocked waiters start "9: ->")
        if len(fields) != 8 or fields[1] != "POSIX" or fields[3] != "WRITE" or fields[5] != dev:
            continue
        start, end = fields[6], fields[7]
        if (
            start.isdigit()
            and int(start) <= WAL_WRITE_LOCK_BYTE
            and (end == "EOF" or (end.isdigit() and int(end) >= WAL_WRITE_LOCK_BYTE))
        ):
            return _describe(int(fields[4]))
    return None


def _describe(pid: int) -> str:
    """`pid N (user: command)`, with whatever of it /proc lets us read."""
    user = command = None
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
                try:
                    user = pwd.getpwuid(uid).pw_name
                except KeyError:
                    user = f"uid:{uid}"
    except (OSError, ValueError, IndexError):
        pass
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        args = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
        # "python -m sladesk_tui import x" / ".venv/bin/sladesk import x": drop the interpreter's path.
        command = " ".join([Path(args[0]).name, *args[1:]]) if args else None
    except OSError:
        pass
    if command is not None and len(command) > _COMMAND_CHARS:
        command = command[: _COMMAND_CHARS - 1] + "…"
    about = ": ".join(safe_text(x) for x in (user, command) if x)
    return f"pid {pid} ({about})" if about else f"pid {pid}"
