"""Alert rules: the `[alerts]` table of the agreements file and each agreement's `alerts`.

Rules live beside the targets they warn about, so one load versions both and an
audit row records who changed them. Secrets never live here: a channel names the
key of its password or webhook URL in the secrets file (`password_secret`,
`url_secret`), which only the service account can read (docs/alerts.md).

Decisions recorded here:

- A level is `"75%"` (share of the target used, between 0 and 100 exclusive),
  `"30m left"` (business time left) or `"breach"`. Its spelling, normalised
  (`"75%"`, `"30m left"`, `"breach"`), is part of an alert's key, so rewording a
  level in the file re-arms it.
- An agreement's `alerts = { levels = [...] }` replaces the desk-wide levels whole
  for that agreement (as a written `at_risk` replaces the default); `levels = []`
  silences it.
- `notify` names `"assignee"`, `"leads"` or channel ids. People are reached by mail
  through the smtp channel `people_via`, at `[alerts.people]`'s address or
  `login@email_domain`.
- The file is refused whole on the first problem, like the rest of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sladesk_tui.core.agreements import CLOCK_NAMES, AgreementError
from sladesk_tui.core.durations import format_duration, parse_duration

CHANNEL_TYPES: tuple[str, ...] = ("smtp", "slack", "mattermost", "teams", "command")
PEOPLE: tuple[str, ...] = ("assignee", "leads")
DEFAULT_DIGEST_WINDOW_S = 60.0
MAX_DIGEST_WINDOW_S = 3600.0

_TOP_KEYS = ("levels", "channels", "people", "people_via", "email_domain", "on_call", "digest_window")
_LEVEL_KEYS = ("at", "clock", "notify")
_AGREEMENT_KEYS = ("levels",)
_CHANNEL_KEYS: Mapping[str, tuple[str, ...]] = {
    "smtp": (
        "type",
        "host",
        "port",
        "starttls",
        "username",
        "password_secret",
        "from",
        "cafile",
        "timeout",
    ),
    "slack": ("type", "url_secret", "timeout"),
    "mattermost": ("type", "url_secret", "timeout"),
    "teams": ("type", "url_secret", "timeout"),
    "command": ("type", "argv", "timeout"),
}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SHARE = re.compile(r"(\d+(?:\.\d+)?) *%")
_LEFT = re.compile(r"(.+?) +left")
_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class Level:
    """One threshold: `kind` share (value: fraction of the target), left (value:
    business seconds left) or breach; `clock` None applies to every clock."""

    name: str
    kind: str
    value: float
    notify: tuple[str, ...]
    clock: str | None = None

    def amount(self, target: float) -> float | None:
        """Elapsed business seconds at which a clock with `target` reaches the level;
        None when it never does (a time-left level at least as long as the target),
        the target itself for breach (crossed once elapsed *exceeds* it)."""
        if self.kind == "share":
            return self.value * target
        if self.kind == "left":
            a = target - self.value
            return a if a > 0 else None
        return target

    def applies_to(self, clock: str) -> bool:
        return self.clock is None or self.clock == clock


@dataclass(frozen=True, slots=True)
class Channel:
    """Where a message goes. Only what the agreements file may hold: names of secrets,
    never the secrets themselves."""

    id: str
    type: str
    host: str | None = None
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_secret: str | None = None
    sender: str | None = None
    cafile: str | None = None
    url_secret: str | None = None
    argv: tuple[str, ...] = ()
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Every alert rule of one agreements version (see the module docstring)."""

    levels: tuple[Level, ...] = ()
    by_agreement: Mapping[str, tuple[Level, ...]] = field(default_factory=dict)
    channels: Mapping[str, Channel] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)
    people_via: str | None = None
    email_domain: str | None = None
    on_call: str | None = None
    digest_window_s: float = DEFAULT_DIGEST_WINDOW_S

    def levels_for(self, agreement_id: str | None) -> tuple[Level, ...]:
        if agreement_id is not None and agreement_id in self.by_agreement:
            return self.by_agreement[agreement_id]
        return self.levels

    def address_of(self, person: str) -> str | None:
        """The mail address of a login name, or None when the rules give none."""
        found = self.people.get(person)
        if found is not None:
            return found
        if self.email_domain and re.fullmatch(r"[A-Za-z0-9._+-]+", person):
            return f"{person}@{self.email_domain}"
        return None


def parse_alert_rules(doc: Mapping[str, Any], agreement_tables: list[dict[str, Any]]) -> AlertRules | None:
    """The rules of a parsed agreements document; None when it has none at all.

    Raises AgreementError naming the key and value (the loader adds file and line).
    """
    raw = doc.get("alerts")
    per = [(t.get("id"), t["alerts"]) for t in agreement_tables if isinstance(t, dict) and "alerts" in t]
    if raw is None and not per:
        return None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AgreementError(f"alerts: {_show(raw)} must be a table, written [alerts]")
    _check_keys(raw, _TOP_KEYS, "alerts")

    channels: dict[str, Channel] = {}
    raw_channels = raw.get("channels", {})
    if not isinstance(raw_channels, dict):
        raise AgreementError("alerts.channels: must be a table of channels, written [alerts.channels.NAME]")
    for cid, table in raw_channels.items():
        channels[cid] = _channel(cid, table)

    people: dict[str, str] = {}
    raw_people = raw.get("people", {})
    if not isinstance(raw_people, dict):
        raise AgreementError("alerts.people: must be a table of login = 'address'")
    for login, address in raw_people.items():
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            raise AgreementError(f"alerts.people.{login}: {_show(address)} is not a mail address")
        people[login] = address

    domain = raw.get("email_domain")
    if domain is not None and (not isinstance(domain, str) or not _DOMAIN.fullmatch(domain)):
        raise AgreementError(f"alerts.email_domain: {_show(domain)} is not a domain such as 'example.com'")
    people_via = _channel_ref(raw.get("people_via"), "alerts.people_via", channels)
    if people_via is not None and channels[people_via].type != "smtp":
        raise AgreementError(f"alerts.people_via: {people_via!r} is not an smtp channel")
    on_call = _channel_ref(raw.get("on_call"), "alerts.on_call", channels)

    window = DEFAULT_DIGEST_WINDOW_S
    if "digest_window" in raw:
        text = raw["digest_window"]
        if text in ("0", "0s", 0):
            window = 0.0
        else:
            try:
                window = parse_duration(text)
            except ValueError as exc:
                raise AgreementError(f"alerts.digest_window: {exc}") from None
            if window > MAX_DIGEST_WINDOW_S:
                raise AgreementError(
                    f"alerts.digest_window: {_show(text)} is too long: at most "
                    f"{format_duration(MAX_DIGEST_WINDOW_S)} (alerts would arrive late)"
                )

    levels = _levels(raw.get("levels", []), "alerts.levels", channels, people_via)
    by_agreement: dict[str, tuple[Level, ...]] = {}
    for aid, table in per:
        label = f"agreement {aid!r}: alerts"
        if not isinstance(table, dict):
            raise AgreementError(f"{label}: {_show(table)} must be a table such as {{ levels = [...] }}")
        _check_keys(table, _AGREEMENT_KEYS, label)
        by_agreement[str(aid)] = _levels(table.get("levels", []), f"{label}.levels", channels, people_via)

    return AlertRules(
        levels=levels,
        by_agreement=by_agreement,
        channels=channels,
        people=people,
        people_via=people_via,
        email_domain=domain,
        on_call=on_call,
        digest_window_s=window,
    )


def alerts_line(text: str) -> int | None:
    """The line of the file's `[alerts]` header (where a problem in the rules is reported)."""
    m = re.search(r"(?m)^[ \t]*\[[ \t]*alerts[ \t]*[\].]", text)
    return None if m is None else text.count("\n", 0, m.start()) + 1


def parse_level_name(text: Any) -> tuple[str, str, float]:
    """(normalised name, kind, value) of a level spelling; ValueError naming the value."""
    if not isinstance(text, str):
        raise ValueError(f"{_show(text)} is not a level (write '75%', '30m left' or 'breach')")
    s = text.strip().lower()
    if s == "breach":
        return "breach", "breach", 0.0
    m = _SHARE.fullmatch(s)
    if m:
        pct = float(m.group(1))
        if not 0 < pct < 100:
            raise ValueError(f"{text!r}: a share must be above 0% and below 100% (use 'breach' for 100%)")
        return f"{pct:g}%", "share", pct / 100
    m = _LEFT.fullmatch(s)
    if m:
        seconds = parse_duration(m.group(1))
        return f"{format_duration(seconds)} left", "left", seconds
    raise ValueError(f"{text!r} is not a level (write '75%', '30m left' or 'breach')")


# ---- internals ----------------------------------------------------------------------


def _levels(
    raw: Any, label: str, channels: Mapping[str, Channel], people_via: str | None
) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise AgreementError(f"{label}: {_show(raw)} must be a list of tables such as {{ at = '75%' }}")
    out: list[Level] = []
    seen: set[tuple[str, str | None]] = set()
    for i, item in enumerate(raw):
        where = f"{label}[{i}]"
        if not isinstance(item, dict):
            raise AgreementError(f"{where}: {_show(item)} must be a table such as {{ at = '75%' }}")
        _check_keys(item, _LEVEL_KEYS, where)
        if "at" not in item:
            raise AgreementError(f"{where}: at: missing (required)")
        try:
            name, kind, value = parse_level_name(item["at"])
        except ValueError as exc:
            raise AgreementError(f"{where}: at: {exc}") from None
        clock = item.get("clock")
        if clock is not None and clock not in CLOCK_NAMES:
            raise AgreementError(
                f"{where}: clock: {_show(clock)} is not a clock (response | update | resolution)"
            )
        if (name, clock) in seen:
            raise AgreementError(f"{where}: at: {name!r} is given twice for the same clock")
        seen.add((name, clock))
        notify_raw = item.get("notify", ["assignee"])
        if not isinstance(notify_raw, list) or not notify_raw:
            raise AgreementError(f"{where}: notify: {_show(notify_raw)} must be a non-empty list")
        notify: list[str] = []
        for j, who in enumerate(notify_raw):
            if who in PEOPLE:
                if people_via is None:
                    raise AgreementError(
                        f"{where}: notify[{j}]: {who!r} needs alerts.people_via (the smtp channel for people)"
                    )
            elif not isinstance(who, str) or who not in channels:
                known = ", ".join(repr(c) for c in (*PEOPLE, *channels))
                raise AgreementError(f"{where}: notify[{j}]: {_show(who)} is not a channel (known: {known})")
            if who not in notify:
                notify.append(who)
        out.append(Level(name=name, kind=kind, value=value, notify=tuple(notify), clock=clock))
    return tuple(out)


def _channel(cid: str, table: Any) -> Channel:
    label = f"alerts.channels.{cid}"
    if not _ID.fullmatch(cid) or cid in PEOPLE:
        raise AgreementError(f"{label}: {cid!r} is not a channel name (letters, digits, '.', '_', '-')")
    if not isinstance(table, dict):
        raise AgreementError(f"{label}: {_show(table)} must be a table with a type")
    kind = table.get("type")
    if kind not in CHANNEL_TYPES:
        raise AgreementError(
            f"{label}.type: {_show(kind)} is not a channel type ({' | '.join(CHANNEL_TYPES)})"
        )
    for key, value in table.items():
        if _looks_secret(key, value):
            raise AgreementError(f"{label}.{key}: secrets belong in the secrets file, not here")
    _check_keys(table, _CHANNEL_KEYS[kind], label)
    timeout = table.get("timeout", "10s")
    try:
        timeout_s = parse_duration(timeout)
    except ValueError as exc:
        raise AgreementError(f"{label}.timeout: {exc}") from None
    if kind == "smtp":
        host = table.get("host")
        if not isinstance(host, str) or not host:
            raise AgreementError(f"{label}.host: {_show(host)} must be a host name")
        port = table.get("port", 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise AgreementError(f"{label}.port: {_show(port)} must be a port number")
        starttls = table.get("starttls", True)
        if not isinstance(starttls, bool):
            raise AgreementError(f"{label}.starttls: {_show(starttls)} must be true or false")
        username = _opt_str(table, "username", label)
        secret = _opt_str(table, "password_secret", label)
        if (username is None) != (secret is None):
            raise AgreementError(f"{label}: username and password_secret go together")
        if username is not None and not starttls:
            raise AgreementError(f"{label}: a login needs starttls = true (no password in clear text)")
        sender = table.get("from")
        if not isinstance(sender, str) or "@" not in sender:
            raise AgreementError(f"{label}.from: {_show(sender)} must be a sender address")
        return Channel(
            id=cid,
            type=kind,
            host=host,
            port=port,
            starttls=starttls,
            username=username,
            password_secret=secret,
            sender=sender,
            cafile=_opt_str(table, "cafile", label),
            timeout_s=timeout_s,
        )
    if kind == "command":
        argv = table.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) and a for a in argv):
            raise AgreementError(f"{label}.argv: {_show(argv)} must be a non-empty list of strings")
        return Channel(id=cid, type=kind, argv=tuple(argv), timeout_s=timeout_s)
    secret = table.get("url_secret")
    if not isinstance(secret, str) or not secret:
        raise AgreementError(
            f"{label}.url_secret: {_show(secret)} must name the webhook URL's key in the secrets file"
        )
    return Channel(id=cid, type=kind, url_secret=secret, timeout_s=timeout_s)


def _looks_secret(key: str, value: Any) -> bool:
    """A password or a webhook URL written into the agreements file by mistake."""
    if key in ("password", "url", "webhook"):
        return True
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _channel_ref(value: Any, key: str, channels: Mapping[str, Channel]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in channels:
        known = ", ".join(repr(c) for c in channels) or "none"
        raise AgreementError(f"{key}: {_show(value)} is not a channel (defined: {known})")
    return value


def _opt_str(table: Mapping[str, Any], key: str, label: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise AgreementError(f"{label}.{key}: {_show(value)} must be a non-empty string")
    return value


def _check_keys(table: Mapping[str, Any], known: tuple[str, ...], label: str) -> None:
    for key in table:
        if key not in known:
            raise AgreementError(f"{label}: unknown key {key!r} (known: {', '.join(known)})")


def _show(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else repr(v)
