"""Overrides and their reviews in the database, each write with its audit row.

`place_override` and `review_override` are what the dialog, the review screen and
the command line call: they read the ticket, its clocks and the roles inside their
own `BEGIN IMMEDIATE` transaction, run the core rules (`core.override_rules`) on
that state, and write the row, its before/after clock figures and its audit row
together, so the figures stored are exactly those the rules saw. The raw writers
(`record_override`, `record_review`) skip the rules: they seed test and benchmark
databases with a history that is already known to be right.

A ticket's override status is its latest review's decision (pending without one);
`core.clocks` applies pending and approved overrides and ignores rejected ones, so
a rejection restores the raw clock at once and nothing is ever rewritten.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sladesk_tui.core.canonical import canonical_json
from sladesk_tui.core.errors import InputError, Refused
from sladesk_tui.core.override_log import LogEntry, LogFilter
from sladesk_tui.core.override_rules import DECISIONS, PARAMETER_FIELDS, check_review
from sladesk_tui.core.overrides import KINDS, REASONS, Override, justification_problem
from sladesk_tui.core.tickets import Review
from sladesk_tui.store.audit import RowRange, append_audit
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import read_tx, write_tx
from sladesk_tui.store.instants import iso_utc, now_ts
from sladesk_tui.store.outcomes import refresh_outcomes
from sladesk_tui.store.queries import agreements_for_versions, load_ticket
from sladesk_tui.store.roles import is_lead
from sladesk_tui.store.search import match_query, overrides_matching, require_index

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.override_effects import Draft
    from sladesk_tui.core.tickets import TicketRecord


@dataclass(frozen=True, slots=True)
class Placed:
    """A recorded override: its id and the clock figures stored with it."""

    id: int
    override: Override
    before: dict[str, Any]
    after: dict[str, Any]


# ---- overrides, with the rules -----------------------------------------------------


def place_override(
    conn: Connection, candidate: Override, *, now: float | None = None, source: str | None = None
) -> Placed:
    """Record `candidate` made by `candidate.operator` at `now` (its id, `at` and status are
    ignored), with the figures before and after and its audit row; `Refused` with the reason
    when a rule says no."""
    now = now_ts() if now is None else now
    with write_tx(conn):
        d = _draft(conn, candidate, now)
        if d.problem or d.preview is None:
            raise Refused(d.problem or "nothing to record")
        before, after = d.preview.before_figures, d.preview.after_figures
        oid = _insert_override(
            conn, d.override, before=before, after=after, actor=d.override.operator, source=source
        )
    return Placed(oid, dataclasses.replace(d.override, id=oid), before, after)


def review_override(
    conn: Connection,
    override_id: int,
    decision: str,
    *,
    reviewer: str,
    comment: str | None = None,
    now: float | None = None,
    source: str | None = None,
) -> int:
    """A lead's `approve` or `reject` of an override; return the review id.

    Refused for a non-lead, for the override's own operator, for a rejection without
    a comment and for repeating the current decision.
    """
    now = now_ts() if now is None else now
    comment = comment.strip() if comment is not None and comment.strip() else None
    with write_tx(conn):
        o = get_override(conn, override_id)
        if o is None:
            raise InputError(f"no override {override_id}")
        stored = check_review(
            o, reviewer=reviewer, reviewer_is_lead=is_lead(conn, reviewer), decision=decision, comment=comment
        )
        return _insert_review(conn, o, stored, reviewer=reviewer, comment=comment, at=now, source=source)


def get_override(conn: Connection, override_id: int) -> Override | None:
    """One override with its status derived from its latest review."""
    row = conn.execute(
        f"SELECT {_OVERRIDE_COLS} FROM overrides o {_LATEST_REVIEW} WHERE o.id = ?", (override_id,)
    ).fetchone()
    return None if row is None else Override(*row[:14])


def override_context(
    conn: Connection, ticket: str, now: float
) -> tuple[TicketRecord, dict[int, AgreementSet]]:
    """The ticket as of `now` and its agreement version: what `core.override_effects.draft`
    needs (the dialog loads it once, then drafts as the agent types)."""
    record = load_ticket(conn, ticket, at=now)
    if record is None:
        raise InputError(f"unknown ticket {ticket!r}")
    return record, agreements_for_versions(conn, [record.agreement_version])


# ---- the log ------------------------------------------------------------------------


def load_log(
    conn: Connection,
    filt: LogFilter | None = None,
    *,
    effects: bool = False,
    now: float | None = None,
    search: str | None = None,
) -> list[LogEntry]:
    """The overrides `filt` selects, by id, with their tickets' agreement and title, the
    stored figures and the latest review. `effects` adds what each one did to a breach at
    `now` (two engine runs per override: for the per-operator figures). `search` keeps
    those the text index finds (`store.search.override_ids`: justification, review
    comments, ticket title and customer); text without a word filters nothing."""
    filt = filt or LogFilter()
    where, params = _where(filt)
    q = None if search is None else match_query(conn, search)
    if q is not None:
        require_index(conn)
        where += f" AND o.id IN ({overrides_matching(conn)})"
        params["q"] = q
    with read_tx(conn):
        rows = conn.execute(
            f"SELECT {_OVERRIDE_COLS}, t.agreement_id, t.title, o.before_json, o.after_json,"
            f" r.id, r.override_id, r.decision, r.reviewer, r.ts, r.comment"
            f" FROM overrides o JOIN tickets t ON t.id = o.ticket {_LATEST_REVIEW}"
            f" WHERE {where} ORDER BY o.id",
            params,
        ).fetchall()
        entries = filt.apply(_entry(row) for row in rows)
        if not (effects and entries):
            return entries
        records = {tid: load_ticket(conn, tid) for tid in {e.override.ticket for e in entries}}
        books = agreements_for_versions(
            conn, {r.agreement_version for r in records.values() if r is not None}
        )
    # The engine runs after the snapshot is released: it is the slow part.
    return _with_effects(entries, records, books, now_ts() if now is None else now)


def load_reviews(conn: Connection, override_id: int) -> list[Review]:
    """Every review of one override, oldest first (the last one decides)."""
    rows = conn.execute(
        "SELECT id, override_id, decision, reviewer, ts, comment FROM reviews WHERE override_id = ? ORDER BY id",
        (override_id,),
    ).fetchall()
    return [Review(*r) for r in rows]


def log_choices(conn: Connection) -> dict[str, list[str]]:
    """The values the review screen's filters offer: operators and agreements on record."""
    return {
        "operator": [r[0] for r in conn.execute("SELECT DISTINCT operator FROM overrides ORDER BY operator")],
        "agreement": [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT t.agreement_id FROM overrides o JOIN tickets t ON t.id = o.ticket"
                " WHERE t.agreement_id IS NOT NULL ORDER BY 1"
            )
        ],
    }


# ---- raw writers (no rules): seeding ---------------------------------------------------


def record_override(
    conn: Connection,
    override: Override,
    *,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    actor: str,
    source: str | None = None,
) -> int:
    """Store `override` as given, with the figures the caller computed; return its id.

    Only what is wrong on its face is refused (kind, reason, justification, ticket).
    """
    if override.kind not in KINDS:
        raise InputError(f"unknown override kind {override.kind!r} (expected one of {', '.join(KINDS)})")
    if override.reason not in REASONS:
        raise InputError(f"unknown reason {override.reason!r} (expected one of {', '.join(REASONS)})")
    problem = justification_problem(override.justification)
    if problem:
        raise InputError(problem)
    with write_tx(conn):
        if conn.execute("SELECT 1 FROM tickets WHERE id = ?", (override.ticket,)).fetchone() is None:
            raise InputError(f"unknown ticket {override.ticket!r}")
        return _insert_override(conn, override, before=before, after=after, actor=actor, source=source)


def record_review(
    conn: Connection,
    override_id: int,
    decision: str,
    *,
    reviewer: str,
    comment: str | None = None,
    at: float | None = None,
    source: str | None = None,
) -> int:
    """A decision ("approved"/"rejected") stored as given, at `at` (default: now)."""
    if decision not in DECISIONS.values():
        raise InputError(f"unknown decision {decision!r} (expected approved or rejected)")
    with write_tx(conn):
        o = get_override(conn, override_id)
        if o is None:
            raise InputError(f"no override {override_id}")
        return _insert_review(
            conn,
            o,
            decision,
            reviewer=reviewer,
            comment=comment,
            at=now_ts() if at is None else at,
            source=source,
        )


# ---- internals ------------------------------------------------------------------------

# Override's fields in order (status from the latest review joined as r), so rows unpack.
_OVERRIDE_COLS = (
    "o.id, o.ticket, o.kind, o.ts, o.operator, o.reason, o.justification, o.clock,"
    " COALESCE(r.decision, 'pending'), o.until_ts, o.by_s, o.responded_ts, o.to_priority, o.ahead_of"
)
_LATEST_REVIEW = "LEFT JOIN reviews r ON r.id = (SELECT MAX(id) FROM reviews WHERE override_id = o.id)"


def _draft(conn: Connection, candidate: Override, now: float) -> Draft:
    from sladesk_tui.core.override_effects import draft

    record, books = override_context(conn, candidate.ticket, now)
    d = draft(record, books, candidate, now)
    ahead = d.override.ahead_of
    known = conn.execute("SELECT 1 FROM tickets WHERE id = ?", (ahead,)).fetchone() if ahead else True
    if d.effect_problem is None and not known:
        return dataclasses.replace(
            d, preview=None, effect_problem=f"unknown ticket {ahead!r} (worked ahead of)"
        )
    return d


def _insert_override(
    conn: Connection,
    o: Override,
    *,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    actor: str,
    source: str | None,
) -> int:
    cur = conn.execute(
        "INSERT INTO overrides (ticket, kind, clock, ts, at, until_ts, by_s, responded_ts, to_priority,"
        " ahead_of, reason, justification, operator, before_json, after_json)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            o.ticket,
            o.kind,
            o.clock,
            o.at,
            iso_utc(o.at),
            o.until,
            o.by_s,
            o.responded_at,
            o.to_priority,
            o.ahead_of,
            o.reason,
            o.justification,
            o.operator,
            canonical_json(dict(before)),
            canonical_json(dict(after)),
        ),
    )
    oid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets lastrowid
    params = {k: getattr(o, k) for k in PARAMETER_FIELDS if getattr(o, k) is not None}
    append_audit(
        conn,
        actor=actor,
        action="override.record",
        subject=f"override {oid} on ticket {o.ticket}",
        before={"clocks": dict(before)},
        after={
            "override": oid,
            "kind": o.kind,
            "clock": o.clock,
            "reason": o.reason,
            "operator": o.operator,
            "params": params,
            "clocks": dict(after),
        },
        source=source,
        covers=[RowRange("overrides", oid, oid)],
    )
    refresh_outcomes(conn, [o.ticket], o.at)  # stored outcomes follow, same transaction
    return oid


def _insert_review(
    conn: Connection,
    o: Override,
    decision: str,
    *,
    reviewer: str,
    comment: str | None,
    at: float,
    source: str | None,
) -> int:
    cur = conn.execute(
        "INSERT INTO reviews (override_id, decision, reviewer, comment, ts, at) VALUES (?, ?, ?, ?, ?, ?)",
        (o.id, decision, reviewer, comment, at, iso_utc(at)),
    )
    rid = int(cur.lastrowid)  # type: ignore[arg-type]  # an INSERT always sets lastrowid
    append_audit(
        conn,
        actor=reviewer,
        action="override.review",
        subject=f"override {o.id} on ticket {o.ticket}",
        before={"status": o.status},
        after={"status": decision, "review": rid, "comment": comment},
        source=source,
        covers=[RowRange("reviews", rid, rid)],
    )
    refresh_outcomes(conn, [o.ticket], at)  # a rejection restores the raw outcome, same transaction
    return rid


def _where(f: LogFilter) -> tuple[str, dict[str, object]]:
    """The filter's column conditions as SQL (status is derived: `LogFilter.apply` does it)."""
    clauses = ["1 = 1"]
    params: dict[str, object] = {}
    for key, column in (
        ("operator", "o.operator"),
        ("kind", "o.kind"),
        ("reason", "o.reason"),
        ("agreement", "t.agreement_id"),
        ("ticket", "o.ticket"),
    ):
        value = getattr(f, key)
        if value is not None:
            clauses.append(f"{column} = :{key}")
            params[key] = value
    if f.since is not None:
        clauses.append("o.ts >= :since")
        params["since"] = f.since
    if f.until is not None:
        clauses.append("o.ts < :until")
        params["until"] = f.until
    return " AND ".join(clauses), params


def _entry(row: sqlite3.Row | tuple[Any, ...]) -> LogEntry:
    o = Override(*row[:14])
    agreement_id, title, before, after = row[14:18]
    review = None if row[18] is None else Review(*row[18:24])
    return LogEntry(o, agreement_id, title, json.loads(before), json.loads(after), review)


def _with_effects(
    entries: Iterable[LogEntry],
    records: Mapping[str, TicketRecord | None],
    books: dict[int, AgreementSet],
    now: float,
) -> list[LogEntry]:
    from sladesk_tui.core.override_effects import breach_effect

    out = []
    for e in entries:
        record = records[e.override.ticket]
        effect = None if record is None else breach_effect(record, books, e.override, now)
        out.append(dataclasses.replace(e, effect=effect))
    return out
