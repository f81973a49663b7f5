"""The sources file: per ticketing system, how its tickets become our events.

It lives beside the agreements file (`sources.toml`, docs/sources.md has a complete
example). One `[[source]]` table per system; the receiver serves it at
`POST /hooks/<name>` and the history puller reads the same table, so a webhook and a
pull of one change derive the same event ids (`core.sources.ids`).

Decisions recorded here:

- A provider's status or priority that the mapping does not name is refused
  (`Unmapped`), never guessed: a wrong guess would start or stop a clock silently.
  Statuses and priority names compare case-insensitively (Zendesk spells `Open` in
  one payload and `open` in another).
- A status maps to one of our statuses (a lowercase word). `resolved` and `closed`
  end the ticket (their own event types); whether a status pauses the clocks is the
  agreement's `pause_statuses`, so the mapping says `waiting` and the agreement
  decides. `pauses` in the source table is a check: each status named there must
  be a mapping target, so a typo cannot leave a pause unmapped.
- Numeric priorities (RT's 0-99) map through `priority_ranges`, inclusive ranges
  tried in order after the exact `priorities` names.
- The customer comes from the organisation, a custom field or the requester's
  e-mail domain, then through the optional `customers` renaming table; `default`
  covers a ticket that has none. No customer and no default is a refusal.
- Comments: a public agent comment, an internal note and a customer's comment each
  map to `reply`, `note`, `customer_reply` or `ignore`.
- The secret file is named, never the secret: the file is read by the receiver,
  which refuses one readable by group or others. A relative path is taken from the
  sources file's folder.
- `pull` is an optional table kept as written for the history puller, which
  validates its own keys.
"""

from __future__ import annotations

import difflib
import math
import posixpath
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli as tomllib  # the agreements loader uses TOML 1.1 too: one dialect for both files

from sladesk_tui.core.agreements import PRIORITY_PATTERN
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.events import STATUS_PATTERN
from sladesk_tui.core.sources.refusals import Unmappable

PROVIDERS: tuple[str, ...] = ("zendesk", "jira", "zammad", "glpi", "sladesk", "rt")
# Providers that push webhooks the receiver checks; `rt` is pulled only (its scrips
# can post our own format through a `sladesk` source).
WEBHOOK_PROVIDERS: frozenset[str] = frozenset({"zendesk", "jira", "zammad", "glpi", "sladesk"})
CUSTOMER_FROM: tuple[str, ...] = ("organization", "field", "requester_domain", "fixed")
COMMENT_TARGETS: tuple[str, ...] = ("reply", "note", "customer_reply", "ignore")
ENDING_STATUSES: frozenset[str] = frozenset({"resolved", "closed"})

DEFAULT_REPLAY_WINDOW_S = 300.0
# GLPI stamps a delivery when it queues it and its cron sends it later, retries
# keeping the stamp: a short window would refuse every late cron run.
DEFAULT_WINDOWS: dict[str, float] = {"glpi": 24 * 3600.0}
DEFAULT_MAX_BODY = 1 << 20
MAX_BODY_LIMIT = 16 << 20

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,20}")
_PRIORITY = re.compile(PRIORITY_PATTERN)
_STATUS = re.compile(STATUS_PATTERN)
_TOML_POS = re.compile(r" \(at (?:line (\d+), column (\d+)|end of document)\)$")

_SOURCE_KEYS = (
    "name",
    "provider",
    "secret_file",
    "ticket_prefix",
    "service",
    "statuses",
    "pauses",
    "priorities",
    "priority_ranges",
    "customer",
    "customers",
    "comments",
    "replay_window_s",
    "max_body_bytes",
    "timezone",
    "pull",
)
_CUSTOMER_KEYS = ("from", "field", "default", "value")
_COMMENT_KEYS = ("public", "internal", "customer")
_RANGE_KEYS = ("from", "to", "priority")


class Unmapped(Unmappable):
    """A provider value the source's mapping does not name: the delivery is refused."""


@dataclass(frozen=True, slots=True)
class PriorityRange:
    """Provider priorities `low..high` (inclusive) are our `priority`."""

    low: float
    high: float
    priority: str


@dataclass(frozen=True, slots=True)
class CustomerRule:
    """Where a ticket's customer comes from (`CUSTOMER_FROM`)."""

    origin: str = "organization"
    field: str | None = None  # the custom field's name, for origin "field"
    value: str | None = None  # the one customer, for origin "fixed"
    default: str | None = None


@dataclass(frozen=True, slots=True)
class CommentRule:
    """Our event type for each kind of provider comment (`COMMENT_TARGETS`)."""

    public: str = "reply"
    internal: str = "note"
    customer: str = "customer_reply"

    def event_type(self, *, public: bool, by_customer: bool) -> str | None:
        """`reply`, `note`, `customer_reply`, or None for a comment to ignore."""
        target = self.customer if by_customer else (self.public if public else self.internal)
        return None if target == "ignore" else target


@dataclass(frozen=True, slots=True)
class Source:
    """One `[[source]]` table."""

    name: str
    provider: str
    secret_file: str | None = None
    ticket_prefix: str = ""
    service: str | None = None
    statuses: Mapping[str, str] = field(default_factory=dict)  # casefolded provider status -> ours
    priorities: Mapping[str, str] = field(default_factory=dict)  # casefolded provider priority -> ours
    priority_ranges: tuple[PriorityRange, ...] = ()
    customer: CustomerRule = CustomerRule()
    customers: Mapping[str, str] = field(default_factory=dict)  # provider's name -> ours
    comments: CommentRule = CommentRule()
    replay_window_s: float = DEFAULT_REPLAY_WINDOW_S
    max_body_bytes: int = DEFAULT_MAX_BODY
    timezone: str = "UTC"  # for provider instants written without an offset (GLPI)
    pull: Mapping[str, Any] | None = None

    def status(self, value: object) -> str:
        """Our status for the provider's; raises Unmapped."""
        key = _key(value)
        ours = self.statuses.get(key)
        if ours is None:
            known = ", ".join(sorted(self.statuses)) or "none"
            raise Unmapped(
                f"source {self.name!r}: status {_show(value)} is not in its mapping (mapped: {known})"
            )
        return ours

    def priority(self, value: object) -> str:
        """Our priority for the provider's (a name, or a number through the ranges)."""
        ours = self.priorities.get(_key(value))
        if ours is not None:
            return ours
        number = _number(value)
        if number is not None:
            for r in self.priority_ranges:
                if r.low <= number <= r.high:
                    return r.priority
        known = ", ".join(sorted(self.priorities)) or "none"
        ranges = ", ".join(f"{_num(r.low)}-{_num(r.high)}" for r in self.priority_ranges)
        if ranges:
            known += f"; ranges {ranges}"
        raise Unmapped(
            f"source {self.name!r}: priority {_show(value)} is not in its mapping (mapped: {known})"
        )

    def customer_name(
        self, *, organization: str | None, fields: Mapping[str, object], requester_email: str | None
    ) -> str:
        """The ticket's customer by the rule, renamed through `customers`; raises Unmapped."""
        rule = self.customer
        found: str | None = None
        if rule.origin == "fixed":
            found = rule.value
        elif rule.origin == "organization":
            found = organization or None
        elif rule.origin == "field":
            raw = fields.get(rule.field or "")
            found = str(raw).strip() if raw not in (None, "") else None
        elif requester_email and "@" in requester_email:
            found = requester_email.rsplit("@", 1)[1].strip().lower() or None
        if found is None:
            if rule.default is None:
                raise Unmapped(
                    f"source {self.name!r}: the ticket has no customer by its rule ({self._rule_text()}) "
                    "and the source has no customer default"
                )
            found = rule.default
        return self.customers.get(found, self.customers.get(found.casefold(), found))

    def _rule_text(self) -> str:
        r = self.customer
        return f"from = {r.origin!r}" + (f", field = {r.field!r}" if r.field else "")

    @property
    def receives(self) -> bool:
        return self.provider in WEBHOOK_PROVIDERS


@dataclass(frozen=True, slots=True)
class SourceSet:
    """Every source of a sources file, by name."""

    sources: tuple[Source, ...]

    def get(self, name: str) -> Source | None:
        for s in self.sources:
            if s.name == name:
                return s
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)


# ---- loading ------------------------------------------------------------------------


def parse_sources_text(text: str, name: str = "<sources>", *, base_dir: str | None = None) -> SourceSet:
    """Parse a sources file's text; InputError naming NAME[:LINE] and the problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        where = name
        if m:
            msg = msg[: m.start()]
            if m.group(1):
                where = f"{name}:{m.group(1)}"
        raise InputError(f"invalid TOML: {msg}", where=where) from None
    lines = _header_lines(text)
    return load_sources(doc, name=name, base_dir=base_dir, header_lines=lines)


def load_sources(
    doc: Mapping[str, Any],
    *,
    name: str = "<sources>",
    base_dir: str | None = None,
    header_lines: list[int] | None = None,
) -> SourceSet:
    """Validate a parsed sources document (a dict, as tomllib gives it).

    Raises InputError naming the file (and the `[[source]]` line when known), the
    source, the key and the value.
    """
    for key in doc:
        if key != "source":
            raise InputError(f"unknown top-level key {key!r}{_hint(key, ('source',))}", where=name)
    tables = doc.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InputError("source: must be an array of tables, written [[source]]", where=name)
    if not tables:
        raise InputError("the file defines no source ([[source]] tables)", where=name)
    lines = header_lines if header_lines is not None and len(header_lines) == len(tables) else None
    out: list[Source] = []
    seen: set[str] = set()
    for i, t in enumerate(tables):
        where = f"{name}:{lines[i]}" if lines else name
        try:
            s = _source(t, i, base_dir)
        except InputError as exc:
            raise InputError(str(exc), where=where) from None
        if s.name in seen:
            raise InputError(f"source {s.name!r}: name is used twice", where=where)
        seen.add(s.name)
        out.append(s)
    return SourceSet(tuple(out))


def _source(t: Mapping[str, Any], index: int, base_dir: str | None) -> Source:
    raw_name = t.get("name")
    label = f"source {raw_name!r}" if isinstance(raw_name, str) else f"source #{index + 1}"
    for key in t:
        if key not in _SOURCE_KEYS:
            raise InputError(f"{label}: unknown key {key!r}{_hint(key, _SOURCE_KEYS)}")
    if not isinstance(raw_name, str) or not _NAME.fullmatch(raw_name):
        raise InputError(
            f"{label}: name: {_show(raw_name)} must be 1-40 of a-z, 0-9, '_' and '-' "
            "(it is the URL path /hooks/<name> and the prefix of event ids)"
        )
    provider = t.get("provider")
    if provider not in PROVIDERS:
        raise InputError(
            f"{label}: provider: {_show(provider)} is not one of {', '.join(PROVIDERS)}"
            f"{_hint(str(provider), PROVIDERS)}"
        )
    secret_file = t.get("secret_file")
    if provider in WEBHOOK_PROVIDERS:
        if not isinstance(secret_file, str) or not secret_file.strip():
            raise InputError(
                f"{label}: secret_file: a {provider} source needs the path of the file holding its secret"
            )
    elif secret_file is not None and not isinstance(secret_file, str):
        raise InputError(f"{label}: secret_file: {_show(secret_file)} must be a path")
    if isinstance(secret_file, str) and base_dir is not None and not posixpath.isabs(secret_file):
        secret_file = posixpath.normpath(posixpath.join(base_dir, secret_file))

    default_prefix = "" if provider == "sladesk" else f"{raw_name}-"
    prefix = t.get("ticket_prefix", default_prefix)
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InputError(f"{label}: ticket_prefix: {_show(prefix)} must be up to 20 of A-Z a-z 0-9 . _ -")
    service = t.get("service")
    if service is not None and (not isinstance(service, str) or not service.strip()):
        raise InputError(f"{label}: service: {_show(service)} must be a service name")

    statuses = _word_table(t.get("statuses", {}), label, "statuses", _STATUS, "a status (a lowercase word)")
    priorities = _word_table(
        t.get("priorities", {}), label, "priorities", _PRIORITY, "a priority name of the agreement"
    )
    pauses = t.get("pauses", [])
    if not isinstance(pauses, list) or not all(isinstance(p, str) for p in pauses):
        raise InputError(f"{label}: pauses: {_show(pauses)} must be a list of our statuses")
    targets = set(statuses.values())
    for p in pauses:
        if p not in targets:
            raise InputError(
                f"{label}: pauses: {p!r} is not a target of statuses (targets: {', '.join(sorted(targets))})"
            )
    ranges = _ranges(t.get("priority_ranges", []), label)
    needs_mapping = provider != "sladesk"
    if needs_mapping and not statuses:
        raise InputError(f"{label}: statuses: a {provider} source needs its statuses mapped to ours")
    if needs_mapping and not priorities and not ranges:
        raise InputError(
            f"{label}: priorities: a {provider} source needs its priorities mapped (priorities or priority_ranges)"
        )

    customer = _customer(t.get("customer", {}), label, provider)
    customers_raw = t.get("customers", {})
    if not isinstance(customers_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in customers_raw.items()
    ):
        raise InputError(f"{label}: customers: must be a table of their name = our customer name")
    customers = {**customers_raw, **{k.casefold(): v for k, v in customers_raw.items()}}
    comments = _comments(t.get("comments", {}), label)

    window = t.get("replay_window_s", DEFAULT_WINDOWS.get(provider, DEFAULT_REPLAY_WINDOW_S))
    if not _is_number(window) or not 1 <= window <= 7 * 24 * 3600:
        raise InputError(
            f"{label}: replay_window_s: {_show(window)} must be a number of seconds, 1 to 604800"
        )
    max_body = t.get("max_body_bytes", DEFAULT_MAX_BODY)
    if not isinstance(max_body, int) or isinstance(max_body, bool) or not 1024 <= max_body <= MAX_BODY_LIMIT:
        raise InputError(
            f"{label}: max_body_bytes: {_show(max_body)} must be a whole number, 1024 to {MAX_BODY_LIMIT}"
        )
    tz = t.get("timezone", "UTC")
    if not isinstance(tz, str) or not _zone_ok(tz):
        raise InputError(f"{label}: timezone: {_show(tz)} is not an IANA time zone such as 'Europe/Paris'")
    pull = t.get("pull")
    if pull is not None and not isinstance(pull, dict):
        raise InputError(f"{label}: pull: must be a table")
    return Source(
        name=raw_name,
        provider=provider,
        secret_file=secret_file,
        ticket_prefix=prefix,
        service=service,
        statuses=statuses,
        priorities=priorities,
        priority_ranges=ranges,
        customer=customer,
        customers=customers,
        comments=comments,
        replay_window_s=float(window),
        max_body_bytes=max_body,
        timezone=tz,
        pull=pull,
    )


def _word_table(raw: Any, label: str, key: str, pattern: re.Pattern[str], what: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InputError(f"{label}: {key}: must be a table of their value = ours")
    out: dict[str, str] = {}
    for theirs, ours in raw.items():
        if not isinstance(ours, str) or not pattern.fullmatch(ours):
            raise InputError(f"{label}: {key}: {theirs!r} = {_show(ours)} is not {what}")
        k = _key(theirs)
        if k in out and out[k] != ours:
            raise InputError(f"{label}: {key}: {theirs!r} is mapped twice (names compare case-insensitively)")
        out[k] = ours
    return out


def _ranges(raw: Any, label: str) -> tuple[PriorityRange, ...]:
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise InputError(f"{label}: priority_ranges: must be a list of {{ from, to, priority }} tables")
    out: list[PriorityRange] = []
    for i, r in enumerate(raw):
        where = f"{label}: priority_ranges[{i}]"
        for k in r:
            if k not in _RANGE_KEYS:
                raise InputError(f"{where}: unknown key {k!r}{_hint(k, _RANGE_KEYS)}")
        low, high, prio = r.get("from"), r.get("to"), r.get("priority")
        if not _is_number(low) or not _is_number(high) or low > high:
            raise InputError(
                f"{where}: from = {_show(low)}, to = {_show(high)} must be numbers with from <= to"
            )
        if not isinstance(prio, str) or not _PRIORITY.fullmatch(prio):
            raise InputError(f"{where}: priority: {_show(prio)} is not a priority name")
        for other in out:
            if low <= other.high and other.low <= high:
                raise InputError(
                    f"{where}: {_num(low)}-{_num(high)} overlaps {_num(other.low)}-{_num(other.high)}"
                )
        out.append(PriorityRange(float(low), float(high), prio))
    return tuple(out)


def _customer(raw: Any, label: str, provider: str) -> CustomerRule:
    if not isinstance(raw, dict):
        raise InputError(f'{label}: customer: must be a table such as {{ from = "organization" }}')
    for k in raw:
        if k not in _CUSTOMER_KEYS:
            raise InputError(f"{label}: customer: unknown key {k!r}{_hint(k, _CUSTOMER_KEYS)}")
    origin = raw.get("from", "organization")
    if origin not in CUSTOMER_FROM:
        raise InputError(f"{label}: customer: from: {_show(origin)} is not one of {', '.join(CUSTOMER_FROM)}")
    fld, value, default = raw.get("field"), raw.get("value"), raw.get("default")
    if origin == "field" and (not isinstance(fld, str) or not fld):
        raise InputError(f'{label}: customer: from = "field" needs field = "<the custom field\'s name>"')
    if origin == "fixed" and (not isinstance(value, str) or not value.strip()):
        raise InputError(f'{label}: customer: from = "fixed" needs value = "<our customer>"')
    if default is not None and (not isinstance(default, str) or not default.strip()):
        raise InputError(f"{label}: customer: default: {_show(default)} must be a customer name")
    return CustomerRule(origin=origin, field=fld, value=value, default=default)


def _comments(raw: Any, label: str) -> CommentRule:
    if not isinstance(raw, dict):
        raise InputError(f"{label}: comments: must be a table {{ public, internal, customer }}")
    for k, v in raw.items():
        if k not in _COMMENT_KEYS:
            raise InputError(f"{label}: comments: unknown key {k!r}{_hint(k, _COMMENT_KEYS)}")
        if v not in COMMENT_TARGETS:
            raise InputError(
                f"{label}: comments: {k} = {_show(v)} is not one of {', '.join(COMMENT_TARGETS)}"
            )
    return CommentRule(**raw)


# ---- small helpers ----------------------------------------------------------------------


def _key(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _zone_ok(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _show(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _hint(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _header_lines(text: str) -> list[int]:
    pat = re.compile(r"\s*\[\[\s*source\s*\]\]\s*(?:#.*)?")
    return [n for n, ln in enumerate(text.split("\n"), 1) if pat.fullmatch(ln.rstrip("\r"))]
