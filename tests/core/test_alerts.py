"""Alert rules from the agreements file and threshold instants from the clock engine."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sladesk_tui.core.agreements import Agreement, AgreementError, Targets, load_agreements
from sladesk_tui.core.alerts import alert_key, plan_ticket, recipients
from sladesk_tui.core.calendar import BusinessCalendar
from sladesk_tui.core.clocks import compute_clocks
from sladesk_tui.core.events import Event
from sladesk_tui.core.overrides import Override

BER = ZoneInfo("Europe/Berlin")
H = 3600.0
M = 60.0
T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BER).timestamp()  # Monday 10:00 Berlin
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BERLIN = BusinessCalendar.from_dict({"tz": "Europe/Berlin", "hours": {d: ["09:00-17:00"] for d in WEEKDAYS}})
DESK = BusinessCalendar.from_dict({"tz": "Europe/Berlin", "hours": {d: ["07:00-20:00"] for d in WEEKDAYS}})
ALWAYS = BusinessCalendar.always("UTC")

RULES = """
[[agreement]]
id = "gold"
customer = "acme"
calendar = "24x7"
[agreement.targets]
P1 = { response = "1h" }

[[agreement]]
id = "quiet"
customer = "hush"
calendar = "24x7"
alerts = { levels = [] }
[agreement.targets]
P1 = { response = "1h" }

[alerts]
digest_window = "2m"
people_via = "mail"
email_domain = "example.com"
on_call = "pager"
levels = [
  { at = "50%" },
  { at = "75 %", clock = "resolution", notify = ["assignee", "leads"] },
  { at = "30m left", notify = ["chat"] },
  { at = "breach", notify = ["assignee", "leads", "chat"] },
]

[alerts.people]
dana = "dana.k@example.org"

[alerts.channels.mail]
type = "smtp"
host = "smtp.example.com"
username = "sladesk"
password_secret = "smtp"
from = "sladesk <alerts@example.com>"

[alerts.channels.chat]
type = "mattermost"
url_secret = "chat-url"

[alerts.channels.pager]
type = "command"
argv = ["/usr/local/bin/page", "--team", "desk"]
"""


def b(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=BER).timestamp()


def agreement(response: float = H, resolution: float | None = None, update: float | None = None) -> Agreement:
    return Agreement(
        id="a",
        name="a",
        customer="acme",
        calendar="24x7",
        targets={"P1": Targets(response=response, resolution=resolution, update=update)},
    )


def created(at: float = T0) -> Event:
    return Event(id="c", type="created", at=at, ticket="T-1", customer="acme", priority="P1", title="x")


def levels(*spec: str, clock: str | None = None) -> tuple:
    text = (
        RULES.split("[alerts]")[0]
        + "[alerts]\npeople_via = 'mail'\nlevels = ["
        + ", ".join(f"{{ at = '{s}'" + (f", clock = '{clock}'" if clock else "") + " }" for s in spec)
        + "]\n"
        + "[alerts.channels.mail]"
        + RULES.split("[alerts.channels.mail]")[1]
    )
    rules = load_agreements(text).alerts
    assert rules is not None
    return rules.levels


def plan(
    events: list[Event],
    now: float,
    lv: tuple,
    *,
    cal: BusinessCalendar = ALWAYS,
    ag: Agreement | None = None,
    overrides: tuple[Override, ...] = (),
    desk: BusinessCalendar | None = None,
):
    clocks = compute_clocks(ag or agreement(), cal, events, now, overrides)
    return plan_ticket("T-1", clocks, cal, lv, now, desk=desk)


# ---- rules ---------------------------------------------------------------------------------


def test_the_rules_example_parses_whole() -> None:
    rules = load_agreements(RULES).alerts
    assert rules is not None
    assert [lv.name for lv in rules.levels] == ["50%", "75%", "30m left", "breach"]
    assert rules.levels[1].clock == "resolution" and rules.levels[1].notify == ("assignee", "leads")
    assert rules.levels[0].notify == ("assignee",)  # the default
    assert rules.levels_for("quiet") == () and rules.levels_for("gold") == rules.levels
    assert rules.digest_window_s == 120 and rules.on_call == "pager"
    assert rules.address_of("dana") == "dana.k@example.org"
    assert rules.address_of("alice") == "alice@example.com"
    assert rules.channels["mail"].port == 587 and rules.channels["mail"].starttls
    assert rules.channels["pager"].argv == ("/usr/local/bin/page", "--team", "desk")


def test_a_file_without_alerts_has_none() -> None:
    assert (
        load_agreements(RULES.split("[alerts]")[0].replace("alerts = { levels = [] }\n", "")).alerts is None
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '{ at = "50%" }',
            '{ at = "100%" }',
            "alerts.levels[0]: at: '100%': a share must be above 0% and below 100%",
        ),
        ('{ at = "50%" }', '{ at = "soon" }', "'soon' is not a level (write '75%', '30m left' or 'breach')"),
        ('{ at = "50%" }', '{ at = "2d left" }', "days and weeks are refused"),
        ('{ at = "50%" }', '{ at = "50%", notify = ["slack"] }', "notify[0]: 'slack' is not a channel"),
        ('{ at = "50%" }', '{ at = "50%", clock = "reply" }', "clock: 'reply' is not a clock"),
        (
            'url_secret = "chat-url"',
            'url = "https://hooks.example.com/x"',
            "alerts.channels.chat.url: secrets belong in the secrets file",
        ),
        (
            'password_secret = "smtp"',
            'password = "hunter2"',
            "alerts.channels.mail.password: secrets belong in the secrets file",
        ),
        (
            'host = "smtp.example.com"',
            'host = "smtp.example.com"\nstarttls = false',
            "a login needs starttls = true",
        ),
        ('digest_window = "2m"', 'digest_window = "2h"', "alerts.digest_window: '2h' is too long"),
        ('on_call = "pager"', 'on_call = "phone"', "alerts.on_call: 'phone' is not a channel"),
        ('people_via = "mail"', 'people_via = "chat"', "alerts.people_via: 'chat' is not an smtp channel"),
        (
            'email_domain = "example.com"',
            'email_domian = "example.com"',
            "alerts: unknown key 'email_domian'",
        ),
        (
            "alerts = { levels = [] }",
            "alerts = { level = [] }",
            "agreement 'quiet': alerts: unknown key 'level'",
        ),
    ],
)
def test_bad_rules_are_refused_naming_the_key(old: str, new: str, message: str) -> None:
    assert old in RULES
    with pytest.raises(AgreementError) as err:
        load_agreements(RULES.replace(old, new, 1), source="a.toml")
    assert message in str(err.value)
    if not old.startswith("alerts ="):
        assert str(err.value).startswith(f"a.toml:{RULES.count(chr(10), 0, RULES.index('[alerts]')) + 1}: ")


def test_people_need_a_mail_channel() -> None:
    text = RULES.replace('people_via = "mail"\n', "")
    with pytest.raises(AgreementError, match="'assignee' needs alerts.people_via"):
        load_agreements(text)


# ---- thresholds --------------------------------------------------------------------------------


def test_the_next_threshold_is_the_nearest_level_and_crossings_the_highest() -> None:
    lv = levels("50%", "75%", "breach")
    p = plan([created()], T0 + 10 * M, lv)
    assert p.crossings == () and p.next_at == T0 + 30 * M
    p = plan([created()], T0 + 50 * M, lv)  # 50% and 75% both crossed (a restart): only 75% alerts
    (c,) = p.crossings
    assert (c.level, c.clock, c.cycle, c.at) == ("75%", "response", int(T0), T0 + 50 * M)
    assert c.key == alert_key("T-1", "response", int(T0), "75%") == f"T-1|response|{int(T0)}|75%"
    assert p.next_at == pytest.approx(T0 + H + 0.001)  # just past the breach instant
    p = plan([created()], T0 + H + 1, lv)
    assert [c.level for c in p.crossings] == ["breach"] and p.crossings[0].at == T0 + H
    assert p.next_at is None


def test_a_planned_crossing_is_dated_to_its_instant() -> None:
    lv = levels("50%")
    first = plan([created()], T0, lv)
    clocks = compute_clocks(agreement(), ALWAYS, [created()], T0 + 30 * M + 0.2)
    p = plan_ticket("T-1", clocks, ALWAYS, lv, T0 + 30 * M + 0.2, scheduled=first.upcoming)
    assert p.crossings[0].at == T0 + 30 * M


def test_time_left_levels_and_levels_longer_than_the_target() -> None:
    lv = levels("30m left", "2h left")  # 2h left of a 1h target: never
    assert plan([created()], T0, lv).next_at == T0 + 30 * M
    assert plan([created()], T0 + 31 * M, lv).crossings[0].level == "30m left"


@pytest.mark.parametrize("how", ["paused", "stopped"])
def test_a_clock_paused_or_stopped_one_second_before_gives_nothing(how: str) -> None:
    lv = levels("50%", "breach")
    ev = (
        Event(id="w", type="status", at=T0 + 30 * M - 1, ticket="T-1", status="waiting")
        if how == "paused"
        else Event(id="r", type="reply", at=T0 + 30 * M - 1, ticket="T-1", author="a")
    )
    for now in (T0 + 30 * M, T0 + 2 * H, T0 + 24 * H):
        p = plan([created(), ev], now, lv)
        assert p.crossings == () and p.next_at is None


def test_holds_and_extensions_move_the_thresholds_and_a_rejection_moves_them_back() -> None:
    lv = levels("50%")
    hold = Override(1, "T-1", "hold", T0 + 10 * M, "dana", "third_party", "why", until=T0 + 20 * M)
    p = plan([created()], T0 + 15 * M, lv, overrides=(hold,))
    assert p.crossings == () and p.next_at == T0 + 20 * M  # held: look again at the release
    p = plan([created()], T0 + 20 * M, lv, overrides=(hold,))
    assert p.next_at == T0 + 40 * M
    rejected = Override(
        1, "T-1", "hold", T0 + 10 * M, "dana", "third_party", "why", status="rejected", until=T0 + 20 * M
    )
    assert plan([created()], T0 + 20 * M, lv, overrides=(rejected,)).next_at == T0 + 30 * M
    extend = Override(2, "T-1", "extend", T0 + 5 * M, "dana", "third_party", "why", clock="response", by_s=H)
    assert plan([created()], T0 + 10 * M, lv, overrides=(extend,)).next_at == T0 + H  # 50% of 2h


def test_a_business_hours_clock_crosses_at_the_next_opening_never_at_night() -> None:
    ag = agreement(response=4 * H)
    lv = levels("50%", "1h left", "breach")
    ev = [created(b(23, 16))]  # Monday 16:00, one business hour left that day
    p = plan(ev, b(23, 16, 30), lv, cal=BERLIN, ag=ag)
    assert p.next_at == b(24, 10)  # 50% (2h): Tuesday 10:00, not Monday 17:00 or overnight
    assert plan(ev, b(24, 3), lv, cal=BERLIN, ag=ag).crossings == ()  # 03:00: nothing crossed
    assert plan(ev, b(24, 3), lv, cal=BERLIN, ag=ag).next_at == b(24, 10)
    p = plan(ev, b(24, 10, 0) + 1, lv, cal=BERLIN, ag=ag)
    assert p.crossings[0].level == "50%" and p.next_at == b(24, 11)
    p = plan(ev, b(24, 11, 30), lv, cal=BERLIN, ag=ag)
    assert p.crossings[0].level == "1h left" and p.next_at == pytest.approx(b(24, 12) + 0.001)


def test_an_off_shift_breach_goes_to_on_call_not_to_people() -> None:
    rules = load_agreements(RULES).alerts
    assert rules is not None
    ev = [created(b(24, 2))]  # 24x7, breaches 03:00 Berlin: the desk (07-20) is closed
    p = plan(ev, b(24, 3) + 1, rules.levels, desk=DESK)
    (c,) = p.crossings
    assert c.level == "breach" and c.off_shift
    assert recipients(c, rules, "alice", ["lena"]) == ("channel:chat", "channel:pager")
    day = plan([created(b(24, 9))], b(24, 10) + 1, rules.levels, desk=DESK).crossings[0]
    assert not day.off_shift
    assert recipients(day, rules, "alice", ["lena", "alice"]) == (
        "person:alice",
        "person:lena",
        "channel:chat",
    )
    assert recipients(day, rules, None, []) == ("channel:chat",)


def test_each_update_cycle_is_its_own_alert() -> None:
    ag = agreement(response=H, update=2 * H)
    lv = levels("50%", clock="update")
    ev = [
        created(),
        Event(id="r1", type="reply", at=T0 + 5 * M, ticket="T-1", author="a"),
        Event(id="u1", type="customer_reply", at=T0 + 10 * M, ticket="T-1", author="c"),
    ]
    first = plan(ev, T0 + 80 * M, lv, ag=ag).crossings[0]
    ev += [
        Event(id="r2", type="reply", at=T0 + 90 * M, ticket="T-1", author="a"),
        Event(id="u2", type="customer_reply", at=T0 + 100 * M, ticket="T-1", author="c"),
    ]
    second = plan(ev, T0 + 170 * M, lv, ag=ag).crossings[0]
    assert first.key != second.key and (first.cycle, second.cycle) == (int(T0 + 10 * M), int(T0 + 100 * M))
