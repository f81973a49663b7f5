"""Sixteen operators on one host write the same database at once (docs/storage.md).

Each writer is a separate OS process (`rel_writer.py mixed`) that goes through the
store's public API: events through `ingest`, overrides through the rule-checked
`place_override`, one transaction per write. The claim: nothing is lost, the audit
chain still verifies, and no user ever sees "database is locked".
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rel_support import CHILD_TIMEOUT_S, assert_clean_stderr, sladesk, writer

WRITERS = 16
WRITES = 400  # per writer: 200 events and 200 overrides
HALF = WRITES // 2


@pytest.mark.slow
def test_sixteen_writers_lose_nothing(team_db: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [writer("mixed", team_db, n, WRITES, go) for n in range(WRITERS)]
    go.touch()  # every writer has its connection open (or is still starting): all race from here
    outputs = []
    for n, p in enumerate(procs):
        out, err = p.communicate(timeout=CHILD_TIMEOUT_S)
        outputs.append((n, p.returncode, out, err))
    for n, code, out, err in outputs:
        assert_clean_stderr(err, f"writer {n}")
        assert code == 0, f"writer {n} exited {code}: {err}"
        assert out.split() == ["done", str(HALF), str(HALF)]

    conn = sqlite3.connect(f"{team_db.as_uri()}?mode=ro", uri=True)
    try:
        events = dict(
            conn.execute(
                "SELECT actor, COUNT(*) FROM events WHERE actor LIKE 'op%' GROUP BY actor"
            ).fetchall()
        )
        overrides = dict(
            conn.execute("SELECT operator, COUNT(*) FROM overrides GROUP BY operator").fetchall()
        )
        audited = dict(
            conn.execute(
                "SELECT actor, COUNT(*) FROM audit_log WHERE actor LIKE 'op%' GROUP BY actor"
            ).fetchall()
        )
        ids = {r[0] for r in conn.execute("SELECT id FROM events WHERE actor LIKE 'op%'")}
        tickets = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM overrides GROUP BY kind").fetchall())
    finally:
        conn.close()
    operators = {f"op{n:02d}" for n in range(WRITERS)}
    assert events == dict.fromkeys(operators, HALF)
    assert overrides == dict.fromkeys(operators, HALF)
    assert audited == dict.fromkeys(operators, WRITES)  # one audit row per write, none lost or doubled
    assert ids == {f"W{n}-e{k}" for n in range(WRITERS) for k in range(HALF)}
    assert tickets == 1 + WRITERS * 5
    assert kinds == {"extend": WRITERS * HALF // 2, "out_of_order": WRITERS * HALF // 2}

    r = sladesk("audit", "verify", "--db", team_db)
    assert r.returncode == 0, r.stderr
    assert f"{4 + WRITERS * WRITES} rows" in r.stdout  # + admin, feed grant, the load and the SHARED import
