"""Desk settings: what each means, its values and its default (docs/roles.md), pure.

`local-actions`: whether agents may record, in the app, the events that move a clock
(reply, status, priority, resolve, reopen). A desk fed by its ticketing system turns
them off: the clocks then move only on what the system of record says, and an
override, which a lead reviews, stays the one way for an agent to depart from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sladesk_tui.core.errors import Refused


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    values: tuple[str, ...]
    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "local-actions",
            ("on", "off"),
            "on",
            "agents' replies, statuses, priorities, resolutions and reopenings in the app",
        ),
    )
}

LOCAL_ACTIONS_OFF = (
    "local actions are off on this desk: the ticketing system records replies, statuses,"
    " priorities and resolutions (an override is the way to depart from the rule)"
)


def check_setting(key: str, value: str) -> None:
    """`Refused` unless `key` is a setting and `value` one of its values."""
    setting = SETTINGS.get(key)
    if setting is None:
        raise Refused(f"unknown setting {key!r} (one of {', '.join(SETTINGS)})")
    if value not in setting.values:
        raise Refused(f"{key}: {value!r} is not one of {', '.join(setting.values)}")
