"""The PostgreSQL rules name the same log tables as the audit chain (docs/postgresql.md).

`schema/postgresql/0002_roles_and_rules.sql` lists the append-only tables in SQL
(`sladesk_log_tables()`); `sladesk_tui.store.audit.COVERED_TABLES` lists them for
the chain. A table added to one and not the other would be either mutable on
PostgreSQL or uncovered by `audit verify`: this keeps them equal, without a server.
"""

from __future__ import annotations

import re
from pathlib import Path

from sladesk_tui.core.events import LOCAL_CLOCK_TYPES, LOCAL_SOURCE, LOCAL_TYPES
from sladesk_tui.store.audit import COVERED_TABLES

RULES = Path(__file__).resolve().parents[2] / "schema" / "postgresql" / "0002_roles_and_rules.sql"
GUARDS = RULES.with_name("0003_projection_guards.sql")


def _sql_list(function: str, migration: Path = RULES) -> str:
    text = migration.read_text(encoding="utf-8")
    m = re.search(rf"CREATE FUNCTION {function}\(\).*?\$\$(.*?)\$\$", text, re.S)
    assert m, f"{function} not found in {migration.name}"
    return m.group(1)


def test_the_log_tables_are_the_audited_tables_and_the_audit_log() -> None:
    named = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_log_tables")))
    assert named == set(COVERED_TABLES) | {"audit_log"}


def test_every_insert_grant_names_a_log_table_and_a_group() -> None:
    logs = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_log_tables")))
    pairs = re.findall(r"\('([a-z]+)', '([a-z_]+)'\)", _sql_list("sladesk_insert_grants"))
    assert pairs
    for kind, table in pairs:
        assert kind in {"agent", "lead", "admin", "feed"}
        assert table in logs
    # Every log table can be written by somebody, or sladesk itself could not write it.
    assert {t for _, t in pairs} == logs


def test_the_local_action_rule_names_the_apps_source_and_clock_moving_types() -> None:
    body = _sql_list("sladesk_event_rules")
    m = re.search(r"NEW\.type IN \(([^)]*)\)", body)
    assert m, body
    assert set(re.findall(r"'([a-z_]+)'", m.group(1))) == set(LOCAL_CLOCK_TYPES)
    assert f"NEW.source = '{LOCAL_SOURCE}'" in body


def test_the_app_event_rule_names_the_apps_event_types() -> None:
    """A person's raw app event of any other type is refused (0003_projection_guards.sql)."""
    named = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_local_types", GUARDS)))
    assert named == set(LOCAL_TYPES)
    assert LOCAL_CLOCK_TYPES < LOCAL_TYPES


def test_the_feed_and_kept_tables_are_projections_not_log_tables() -> None:
    logs = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_log_tables")))
    feed = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_feed_tables", GUARDS)))
    kept = set(re.findall(r"'([a-z_]+)'", _sql_list("sladesk_kept_tables", GUARDS)))
    assert {"pull_cursors", "pull_problems", "source_status"} <= feed
    assert "outcome_days" in kept
    assert not (feed | kept) & logs and not feed & kept


def test_the_longest_extension_is_the_apps() -> None:
    from sladesk_tui.core.override_rules import MAX_EXTENSION_S

    text = RULES.with_name("0005_ids_and_values.sql").read_text(encoding="utf-8")
    m = re.search(r"by_s > 0 AND by_s <= (\d+)\)", text)
    assert m, "the extension bound is not in 0005_ids_and_values.sql"
    assert float(m.group(1)) == MAX_EXTENSION_S
