"""A hold far ahead: refused beyond the agreement's `max_hold`, and instants in another
year show their year (command line and ticket screen formatters)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from support import GOLD_24X7, fresh_db, give_roles

from sladesk_tui.cli import main
from sladesk_tui.core.override_log import parameter_text, short_instant
from sladesk_tui.core.overrides import Override
from sladesk_tui.tui.widgets.clock_panel import Zones, fmt_instant

JUSTIFICATION = "the customer is away until the part ships"


def _db_with_a_ticket_made_now(tmp_path: Path, agreements: str) -> Path:
    db = fresh_db(tmp_path / "holds.db", agreements, actor="sam")
    give_roles(db, "feed", "sam")
    give_roles(db, "admin", "sam")
    at = dt.datetime.fromtimestamp(time.time() - 60, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    f = tmp_path / "ev.jsonl"
    f.write_text(
        json.dumps(
            {"id": "c1", "type": "created", "ticket": "T-1", "at": at}
            | {"customer": "acme", "priority": "P2", "title": "waiting for a part"}
        )
        + "\n"
    )
    assert main(["--db", str(db), "import", str(f)], operator="sam") == 0
    return db


def _hold(db: Path, until: str) -> int:
    return main(
        ["--db", str(db), "override", "T-1", "hold", f"--until={until}"]
        + ["--reason", "customer_request", "--justification", JUSTIFICATION],
        operator="sam",
    )


def test_a_hold_until_2100_is_refused_with_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _db_with_a_ticket_made_now(tmp_path, GOLD_24X7)
    assert _hold(db, "2100-01-01T00:00Z") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "sladesk: hold until 2100-01-01T00:00:00Z is longer than agreement gold's max_hold (2160h"
    )
    assert _hold(db, "+2000h") == 0


def test_max_hold_is_set_per_agreement(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = GOLD_24X7.replace('calendar = "24x7"', 'calendar = "24x7"\nmax_hold = "48h"')
    db = _db_with_a_ticket_made_now(tmp_path, text)
    assert _hold(db, "+49h") == 2
    assert "max_hold (48h from now)" in capsys.readouterr().err
    assert _hold(db, "+47h") == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(GOLD_24X7.replace('calendar = "24x7"', 'calendar = "24x7"\nmax_hold = "3 days"'))
    assert main(["--db", str(db), "load", str(bad)], operator="sam") == 2
    assert "agreement 'gold': max_hold: '3 days' is not a duration" in capsys.readouterr().err


def _at(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def test_the_override_list_shows_the_year_of_a_hold_into_another_year() -> None:
    made = _at("2026-12-07T10:00:00+00:00")
    hold = Override(
        1, "T-1", "hold", made, "sam", "other", JUSTIFICATION, until=_at("2100-01-01T00:00:00+00:00")
    )
    assert parameter_text(hold, now=made) == "until 2100-01-01 00:00Z"
    soon = Override(
        1, "T-1", "hold", made, "sam", "other", JUSTIFICATION, until=_at("2026-12-09T11:00:00+00:00")
    )
    assert parameter_text(soon, now=made) == "until 12-09 11:00Z"
    # The year is the reader's: the same hold, read in 2027, is in another year.
    assert parameter_text(soon, now=_at("2027-01-02T00:00:00+00:00")) == "until 2026-12-09 11:00Z"
    assert short_instant(made, _at("2027-01-02T00:00:00+00:00")) == "2026-12-07 10:00Z"
    assert short_instant(made, made) == "12-07 10:00Z"


def test_the_ticket_screen_shows_the_year_of_an_instant_in_another_year() -> None:
    utc = dt.UTC
    zones = Zones(utc, utc, "UTC", year=2026)
    assert (
        zones.both(_at("2100-01-01T00:00:00+00:00")) == "Fri 01 Jan 2100 00:00 UTC (yours and the customer's)"
    )
    assert zones.both(_at("2026-11-27T10:15:00+00:00")) == "Fri 27 Nov 10:15 UTC (yours and the customer's)"
    assert fmt_instant(_at("2027-01-01T00:00:00+00:00"), utc, year=2026) == "Fri 01 Jan 2027 00:00 UTC"
