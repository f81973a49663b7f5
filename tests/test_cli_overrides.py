"""`sladesk override`, `overrides`, `review`, `init --lead`, `lead`: the rules on the command line.

Each refusal exits 2 with one line on stderr and writes nothing. The operator is
injected below the command line (`main(..., operator=)`), as docs/roles.md says; the
command line's clock is the real one, so the history is relative to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from support import GOLD_24X7

from sladesk_tui.cli import main

H = 3600
WHY = "Customer's phone is off until the afternoon"
FORMULA = '=HYPERLINK("http://evil","x") customer said so\x1b]52;c;eA==\x07'


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Desk:
    """A database made through the command line itself; `run` returns (exit, stdout, stderr)."""

    def __init__(self, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = tmp / "desk.db"
        self.capsys = capsys
        now = time.time()
        events = [
            {
                "id": "1c",
                "ticket": "T-1",
                "at": iso(now - 0.5 * H),
                "type": "created",
                "customer": "acme",
                "priority": "P2",
                "title": "Invoices",
            },
            {
                "id": "2c",
                "ticket": "T-2",
                "at": iso(now - 2 * H),
                "type": "created",
                "customer": "acme",
                "priority": "P1",
                "title": "VPN",
            },
            {"id": "2r", "ticket": "T-2", "at": iso(now - 1.8 * H), "type": "reply", "author": "sam"},
            {
                "id": "3c",
                "ticket": "T-3",
                "at": iso(now - 3 * H),
                "type": "created",
                "customer": "acme",
                "priority": "P2",
                "title": "Password",
            },
        ]
        (tmp / "a.toml").write_text(GOLD_24X7, encoding="utf-8")
        (tmp / "e.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        assert self.run("init", "--admin", "lee", "--lead", "lee", operator="root")[0] == 0
        assert self.run("role", "grant", "feed", "importer", operator="lee")[0] == 0
        assert self.run("load", str(tmp / "a.toml"), operator="lee")[0] == 0
        assert self.run("import", str(tmp / "e.jsonl"), operator="importer")[0] == 0

    def run(self, *argv: str, operator: str = "sam") -> tuple[int, str, str]:
        code = main(["--db", str(self.db), *argv], operator=operator)
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def refused(self, *argv: str, operator: str = "sam") -> str:
        """Run a command that must be refused: exit 2, one line, nothing written."""
        before = self.counts()
        code, out, err = self.run(*argv, operator=operator)
        assert code == 2, (out, err)
        assert err.startswith("sladesk: ") and err.count("\n") == 1, err
        assert "Traceback" not in err and out == ""
        assert self.counts() == before
        return err

    def counts(self) -> tuple[int, ...]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(
                "SELECT (SELECT COUNT(*) FROM overrides), (SELECT COUNT(*) FROM reviews),"
                " (SELECT COUNT(*) FROM role_grants), (SELECT COUNT(*) FROM audit_log)"
            ).fetchone()
        finally:
            conn.close()

    def override(self, *argv: str, operator: str = "sam") -> int:
        code, out, err = self.run("override", *argv, operator=operator)
        assert code == 0, err
        return int(out.split()[1])


@pytest.fixture
def desk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Desk:
    return Desk(tmp_path, capsys)


def test_override_prints_the_before_and_after_figures(desk: Desk) -> None:
    code, out, err = desk.run(
        "override",
        "T-1",
        "hold",
        "--until",
        "+1h",
        "--reason",
        "customer_unreachable",
        "--justification",
        WHY,
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "override 1 recorded on T-1: hold, pending review"
    # The same remaining time, now standing still (29m or 30m: the history is relative to the real clock).
    before, after = lines[1].removeprefix("  response: ").split(" -> ")
    assert before.startswith("ok, ") and after == "paused, " + before.removeprefix("ok, ")
    assert lines[2].startswith("  resolution: ok, 7h ") and "-> paused, 7h " in lines[2]
    assert desk.run("audit", "verify")[0] == 0


@pytest.mark.parametrize("why", ["too short", "              ", "a b c d e f g h"])
def test_short_or_blank_justification(desk: Desk, why: str) -> None:
    err = desk.refused(
        "override", "T-1", "hold", "--until", "+1h", "--reason", "other", "--justification", why
    )
    assert "at least 15 non-blank characters" in err


def test_override_on_a_stopped_clock(desk: Desk) -> None:
    err = desk.refused(
        "override",
        "T-2",
        "extend",
        "--clock",
        "response",
        "--by",
        "30m",
        "--reason",
        "third_party",
        "--justification",
        WHY,
    )
    assert "the response clock already stopped" in err
    err = desk.refused("override", "T-2", "responded", "--reason", "other", "--justification", WHY)
    assert "already stopped" in err


def test_bad_parameters_are_one_line(desk: Desk) -> None:
    assert "--until:" in desk.refused(
        "override", "T-1", "hold", "--until", "tomorrow", "--reason", "other", "--justification", WHY
    )
    assert "--by:" in desk.refused(
        "override", "T-1", "extend", "--by", "2d", "--reason", "other", "--justification", WHY
    )
    assert "does not apply to hold" in desk.refused(
        "override", "T-1", "hold", "--until", "+1h", "--to", "P1", "--reason", "other", "--justification", WHY
    )
    assert "invalid choice" in desk.refused(
        "override", "T-1", "hold", "--reason", "because", "--justification", WHY
    )
    assert "unknown ticket 'T-9'" in desk.refused(
        "override", "T-9", "exempt", "--reason", "other", "--justification", WHY
    )


def test_review_rules(desk: Desk) -> None:
    oid = desk.override(
        "T-1", "hold", "--until", "+1h", "--reason", "customer_unreachable", "--justification", WHY
    )
    assert "kim is not a lead" in desk.refused("review", str(oid), "approve", operator="kim")
    assert desk.run("lead", "grant", "sam", operator="lee")[0] == 0
    assert "nobody reviews their own override" in desk.refused("review", str(oid), "approve", operator="sam")
    assert "needs a comment" in desk.refused("review", str(oid), "reject", operator="lee")
    code, out, _ = desk.run("review", str(oid), "reject", "--comment", "call them first", operator="lee")
    assert (code, out) == (0, f"override {oid} rejected by lee\n")
    assert "already rejected" in desk.refused(
        "review", str(oid), "reject", "--comment", "again", operator="lee"
    )


def test_roles(desk: Desk) -> None:
    assert "already named" in desk.refused("init", "--lead", "sam", operator="sam")
    assert "sam is not a lead" in desk.refused("lead", "grant", "sam", operator="sam")
    assert "only a team lead may revoke" in desk.refused("lead", "revoke", "lee", operator="sam")
    assert "last lead" in desk.refused("lead", "revoke", "lee", operator="lee")
    assert desk.run("lead", "grant", "kim", operator="lee")[1] == "kim is now a team lead\n"
    assert desk.run("lead", "list")[1] == "kim\nlee\n"
    assert desk.run("lead", "revoke", "lee", operator="kim")[1] == "lee is no longer a team lead\n"
    assert desk.run("lead", "list")[1] == "kim\n"


def test_a_rejection_restores_the_raw_clock_in_the_log_and_figures(desk: Desk) -> None:
    oid = desk.override(
        "T-3", "responded", "--at=-2h40m", "--reason", "other", "--justification", WHY, operator="kim"
    )
    code, out, _ = desk.run("overrides", "--stats", "--format", "json")
    (kim,) = json.loads(out)
    assert (kim["operator"], kim["turned_met"], kim["pending"], kim["approval_rate"]) == ("kim", 1, 1, None)
    assert desk.run("review", str(oid), "reject", "--comment", "no call on record", operator="lee")[0] == 0
    (kim,) = json.loads(desk.run("overrides", "--stats", "--format", "json")[1])
    assert (kim["rejected"], kim["approval_rate"], kim["by_kind"]) == (1, 0.0, {"responded": 1})
    # The override stays on the record with its figures; it no longer counts.
    from sladesk_tui.core.evaluate import evaluate
    from sladesk_tui.store.db import connect
    from sladesk_tui.store.queries import agreements_for_versions, load_ticket

    conn = connect(desk.db, readonly=True)
    try:
        record = load_ticket(conn, "T-3")
        assert record is not None
        tc = evaluate(record, agreements_for_versions(conn, [record.agreement_version]), time.time())
    finally:
        conn.close()
    assert tc.adjusted["response"].state == "breached" and not tc.differs
    (entry,) = json.loads(desk.run("overrides", "--format", "json")[1])
    assert entry["before"]["response"]["state"] == "breached" and entry["after"]["response"]["state"] == "met"
    assert entry["status"] == "rejected" and entry["review"]["comment"] == "no call on record"


def test_list_filters_and_formats_neutralise_untrusted_text(desk: Desk) -> None:
    desk.override(
        "T-1", "hold", "--until", "+1h", "--reason", "customer_unreachable", "--justification", FORMULA
    )
    desk.override(
        "T-3",
        "exempt",
        "--clock",
        "response",
        "--reason",
        "customer_request",
        "--justification",
        WHY,
        operator="kim",
    )
    code, out, _ = desk.run("overrides")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    header, *lines = out.splitlines()
    assert header.split() == ["id", "at", "ticket", "override", "by", "status"]
    assert lines[0].split()[3:6] == ["T-1", "hold", "all"] and lines[0].split()[-2:] == ["sam", "pending"]
    assert lines[1].startswith("    customer_unreachable: =HYPERLINK(") and "␛]52" in lines[1]  # harmless
    assert lines[2].split()[3:6] == ["T-3", "exempt", "response"] and len(lines) == 4
    assert all(len(line) <= 80 for line in lines)
    code, out, _ = desk.run("overrides", "--format", "csv", "--operator", "sam")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["justification"].startswith("'=HYPERLINK") and "\x1b" not in row["justification"]
    assert row["operator"] == "sam" and row["status"] == "pending"
    exempt = json.loads(desk.run("overrides", "--format", "json", "--kind", "exempt")[1])
    assert [e["ticket"] for e in exempt] == ["T-3"]
    assert json.loads(desk.run("overrides", "--format", "json", "--status", "approved")[1]) == []
    assert json.loads(desk.run("overrides", "--format", "json", "--since", "+1h")[1]) == []
    assert desk.run("overrides", "--since", "yesterday")[0] == 2
    _, out, _ = desk.run("overrides", "--stats")
    assert out.splitlines()[0].split()[:3] == ["operator", "overrides", "pending"]


def test_search_finds_overrides_by_justification_comment_and_ticket(desk: Desk) -> None:
    desk.override("T-1", "hold", "--until", "+1h", "--reason", "customer_unreachable", "--justification", WHY)
    second = desk.override(
        "T-3",
        "exempt",
        "--clock",
        "response",
        "--reason",
        "customer_request",
        "--justification",
        "Customer asked us to wait for their technician",
        operator="kim",
    )
    assert (
        desk.run("review", str(second), "reject", "--comment", "Escalate to the NOC", operator="lee")[0] == 0
    )

    def found(*words: str) -> list[str]:
        code, out, err = desk.run("overrides", "--format", "json", "--search", *words)
        assert code == 0, err
        return [e["ticket"] for e in json.loads(out)]

    assert found("afternoon") == ["T-1"]  # the justification
    assert found("escalate") == ["T-3"]  # the review comment
    assert found("passw") == ["T-3"]  # the ticket's title, as a prefix
    assert found("customer") == ["T-1", "T-3"]
    assert found('customer "afternoon') == ["T-1"]  # every word; a stray quote is text
    assert found("NOT") == []
    code, out, _ = desk.run("overrides", "--search", "technician")
    assert code == 0 and "T-3" in out and "T-1" not in out
