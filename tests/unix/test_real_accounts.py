"""The team deployment of docs/deployment.md, as real Unix accounts (a lead, an admin,
an agent, a feed account, an outsider), run the way the documented sudo set-up runs
them: the operator's own uid, the service group, a reset environment.

Needs root to create the accounts; skipped with the reason otherwise, never skipped
in CI (CI=true), where .ci/unix.sh installs what it needs.
"""

from __future__ import annotations

import grp
import json
import stat

from support import GOLD_24X7
from unix_host import JUSTIFICATION, T0, Host, created, doc_block, run

# ---- roles -------------------------------------------------------------------------------


def test_an_agents_import_and_load_are_refused_and_the_feeds_accepted(host: Host) -> None:
    backdated = (
        json.dumps({"id": "r-forged", "ticket": "T-1", "type": "reply", "at": "2020-01-01T00:00:00Z"}) + "\n"
    ).encode()
    softer = GOLD_24X7.replace('"15m"', '"8h"').encode()
    events_before = host.sqlite("SELECT COUNT(*) FROM events")
    versions_before = host.sqlite("SELECT COUNT(*) FROM agreement_versions")
    # Through the wrapper: the allow-list stops them before Python starts.
    for args, stdin in ((("import", "-"), backdated), (("load", "-"), softer)):
        r = host.as_operator("agent", *args, stdin=stdin)
        assert r.returncode == 2 and r.stderr == f"sladesk: {args[0]}: not a command you may run here\n"
    # Around the wrapper (the data group, sladesk itself): sladesk's roles stop them.
    r = host.around_wrapper("agent", "import", "-", stdin=backdated)
    assert r.returncode == 2
    assert r.stderr.startswith(
        f"sladesk: {host.users['agent']} is not a feed account: this needs the feed role"
    )
    r = host.around_wrapper("agent", "load", "-", stdin=softer)
    assert r.returncode == 2 and f"{host.users['agent']} is not an admin" in r.stderr
    r = host.around_wrapper("feed", "load", "-", stdin=softer)  # a feed account is not an admin
    assert r.returncode == 2 and "is not an admin" in r.stderr
    assert host.sqlite("SELECT COUNT(*) FROM events") == events_before
    assert host.sqlite("SELECT COUNT(*) FROM agreement_versions") == versions_before
    # The feed account's import goes through.
    r = host.as_operator("feed", "import", "-", stdin=(created("c2", "T-2", T0 + 60) + "\n").encode())
    assert r.returncode == 0, r.stderr
    assert host.sqlite("SELECT actor, source FROM events WHERE id = 'c2'") == [
        (host.users["feed"], "import:<stdin>")
    ]


def test_the_audit_log_names_each_real_login(host: Host) -> None:
    r = host.as_operator(
        "agent", "override", "T-1", "extend", "--clock", "resolution", "--by", "30m",
        "--reason", "customer_request", "--justification", JUSTIFICATION,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (oid,) = host.sqlite(f"SELECT MAX(id) FROM overrides WHERE operator = '{host.users['agent']}'")[0]
    r = host.as_operator("lead", "review", str(oid), "approve")
    assert r.returncode == 0, r.stderr
    r = host.as_operator("agent", "review", str(oid), "approve")
    assert r.returncode == 2 and "is not a lead" in r.stderr
    actors = {(action, actor) for action, actor in host.sqlite("SELECT action, actor FROM audit_log")}
    u = host.users
    assert {
        ("role.admin.init", u["data"]),  # the service account created the database
        ("role.init", u["data"]),
        ("role.feed.grant", u["admin"]),
        ("agreements.load", u["admin"]),
        ("events.import", u["feed"]),
        ("override.record", u["agent"]),
        ("override.review", u["lead"]),
    } <= actors
    assert {a for _, a in actors} <= {u[r] for r in ("data", "admin", "feed", "agent", "lead")}
    assert host.sqlite("SELECT DISTINCT source FROM audit_log") == [("local",)]
    r = host.as_operator("agent", "audit", "verify")
    assert r.returncode == 0 and r.stdout.startswith("audit chain ok"), r.stderr


# ---- no abbreviations, no side files ------------------------------------------------------


def test_abbreviated_db_options_are_refused_everywhere(host: Host) -> None:
    stray = host.data_dir / "x.db"
    for args in (
        ("queue", f"--d={stray}"),
        ("queue", "--da", str(stray)),
        ("queue", "--db", str(stray)),
        (f"--d={stray}", "queue"),
        ("demo", f"--db={stray}"),
        ("init", "--admin", host.users["agent"]),
        ("bash",),
        ("queue;",),
    ):
        r = host.as_operator("agent", *args)
        assert r.returncode == 2 and r.stderr.startswith("sladesk: "), (args, r.stderr)
        assert r.stderr.count("\n") == 1
    for args in (
        (f"--d={stray}", "queue"),
        ("queue", f"--d={stray}"),
        ("queue", "--da", str(stray)),
        ("audit", "verify", f"--d={stray}"),
    ):
        r = host.around_wrapper("agent", *args)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (args, r.stderr)
    assert not stray.exists()


def test_side_file_paths_are_refused_even_through_a_symlink(host: Host) -> None:
    home = host.home("agent")
    # A lookup leaves -wal/-shm behind while the file is in use; keep one open as the feed would.
    links = {
        "w.db": host.data_dir / "team.db-wal",
        "s.db": host.data_dir / "team.db-shm",
        "j.db": host.data_dir / "team.db-journal",
    }
    for name, target in links.items():
        (home / name).symlink_to(target)
    before = sorted(p.name for p in host.data_dir.iterdir())
    for name in links:
        r = host.around_wrapper("agent", "--db", str(home / name), "queue")
        assert r.returncode == 2 and "is one of SQLite's side files" in r.stderr, r.stderr
        r = host.around_wrapper("agent", "--db", str(home / name), "init")
        assert r.returncode == 2 and "is one of SQLite's side files" in r.stderr, r.stderr
    r = host.around_wrapper("agent", "--db", str(host.data_dir), "queue")
    assert r.returncode == 2 and "not a regular file" in r.stderr
    assert not (host.data_dir / "team.db-journal").exists()
    assert sorted(p.name for p in host.data_dir.iterdir()) == before
    r = host.as_operator("agent", "queue")  # lookups still work
    assert r.returncode == 0 and "T-1" in r.stdout, r.stderr


# ---- file modes ------------------------------------------------------------------------------


def test_an_outsider_cannot_open_the_directory(host: Host) -> None:
    st = host.db.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660 and grp.getgrgid(st.st_gid).gr_name == host.groups["data"]
    assert stat.S_IMODE(host.data_dir.stat().st_mode) == 0o2770
    r = host.as_plain("outsider", "ls", str(host.data_dir))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    r = host.as_plain(
        "outsider",
        str(host.venv / "bin" / "python"),
        "-I",
        "-m",
        "sladesk_tui",
        "--db",
        str(host.db),
        "queue",
    )
    assert (
        r.returncode == 2
        and r.stderr == f"sladesk: {host.db}: cannot reach the database: Permission denied\n"
    )
    r = host.as_plain("outsider", "sqlite3", str(host.db), "SELECT 1")
    assert r.returncode != 0 and "unable to open database file" in r.stderr
    # An agent without the data group (not through sudo) cannot either.
    r = host.as_plain("agent", "sqlite3", str(host.db), "SELECT 1")
    assert r.returncode != 0


def test_backups_are_written_for_the_service_account_only(host: Host) -> None:
    prepare = next(ln for ln in doc_block("install -d -m 0700").splitlines() if ln.startswith("install -d"))
    run(["sh", "-c", host.render(prepare)])  # as root, as the page does
    cron = doc_block("30 2 * * *").strip()
    command = host.render(cron.split(None, 5)[5]).replace("\\%", "%")
    r = host.as_service(command, umask="022")  # cron's usual umask: the line must not depend on it
    assert r.returncode == 0, r.stderr
    (backup,) = list(host.backups.iterdir())
    assert stat.S_IMODE(host.backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    for role in ("outsider", "agent"):
        r = host.as_plain(role, "cat", str(backup))
        assert r.returncode != 0 and "Permission denied" in r.stderr
    # `audit verify` of the backup, as the service account (the wrapper refuses --db).
    (line,) = doc_block("-m sladesk_tui --db /var/backups/sladesk/").splitlines()
    argv = host.render(line).split()
    assert argv[:3] == ["sudo", "-u", host.users["data"]] and argv[-2:] == ["audit", "verify"]
    argv[-3] = str(backup)  # the page's dated name -> the file just written
    r = host.as_service(*argv[3:])
    assert r.returncode == 0 and r.stdout.startswith("audit chain ok"), r.stderr
