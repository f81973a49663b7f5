"""Whether a failed database operation is worth trying again, on either engine (docs/storage.md).

The long-running loops (`import --follow`, the receiver's writer, the notifier, `pull
--follow`) must not stop on a busy database, and must not retry for ever what can
never succeed. This module is the one place that tells them apart:

- `Failure.BUSY`: contention (SQLite's lock past the busy timeout, PostgreSQL's lock
  timeout, a serialization failure or deadlock): the same write may succeed in a
  moment, on the same connection.
- `Failure.LOST`: the connection is gone (the server restarted, an administrator
  ended the session, the network dropped): open a new one, then try again. Whatever
  the lost transaction held was rolled back by the server.
- `Failure.REFUSED`: a rule said no (a privilege, a trigger's RAISE, a read-only
  standby, sladesk's own role check): trying again changes nothing; stop and say so.
- `Failure.OTHER`: anything else (a bad value, a missing table, a full disk): the
  caller decides (a feed reports a bad line and skips it; a service stops).

`store.pg` maps psycopg's errors to sqlite3's with PostgreSQL's SQLSTATE kept
(`PgDatabaseError.sqlstate`), which is what is read here; SQLite's are told by text.
"""

from __future__ import annotations

import enum
import sqlite3

from sladesk_tui.core.errors import Refused

# PostgreSQL's SQLSTATEs (Appendix A of its manual) by what they mean to a retrying loop.
_BUSY_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout: the writers' lock, a row lock)
        "55006",  # object_in_use
        # Not 57014 (query_canceled): a statement that outlived the statement_timeout
        # would outlive it again, and an administrator's cancel means "stop": OTHER.
    }
)
_LOST_STATES = frozenset({"57P01", "57P02", "57P03", "57P05"})  # admin/crash shutdown, cannot connect now
_REFUSED_STATES = frozenset(
    {
        "42501",  # insufficient_privilege
        "P0001",  # raise_exception: a rule trigger's RAISE
        "25006",  # read_only_sql_transaction: a standby, or a read-only session
    }
)


class Failure(enum.Enum):
    BUSY = "busy"
    LOST = "lost"
    REFUSED = "refused"
    OTHER = "other"


def classify(exc: BaseException) -> Failure:
    """What `exc`, raised by a store operation, means to a loop that would retry it."""
    from sladesk_tui.store.db import DatabaseBusy

    if isinstance(exc, Refused):
        return Failure.REFUSED
    if isinstance(exc, DatabaseBusy):
        return Failure.BUSY
    if not isinstance(exc, sqlite3.Error):
        return Failure.OTHER
    if hasattr(exc, "sqlstate"):  # store.pg.PgDatabaseError
        return _classify_pg(exc)
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return Failure.BUSY
    if "readonly" in text:  # the file or its directory is not writable for this account
        return Failure.REFUSED
    return Failure.OTHER


def _classify_pg(exc: sqlite3.Error) -> Failure:
    from sladesk_tui.store.pg import PgOperationalError

    state: str | None = getattr(exc, "sqlstate", None)
    if state is None:
        # psycopg names no SQLSTATE when the connection itself failed (closed,
        # "server closed the connection unexpectedly", "consuming input failed").
        return Failure.LOST if isinstance(exc, PgOperationalError) else Failure.OTHER
    if state in _BUSY_STATES:
        return Failure.BUSY
    if state.startswith("08") or state in _LOST_STATES:  # class 08: connection exception
        return Failure.LOST
    if state in _REFUSED_STATES or state.startswith("28"):  # class 28: invalid authorization
        return Failure.REFUSED
    return Failure.OTHER


def retryable(exc: BaseException) -> bool:
    """Busy or lost: worth trying again (after reconnecting, when lost)."""
    return classify(exc) in (Failure.BUSY, Failure.LOST)


def reason(exc: BaseException) -> str:
    """The failure in one line, the server's text made safe to print."""
    from sladesk_tui.core.text import safe_text

    return safe_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
