"""A throwaway team host for the real-account tests: accounts, groups, an install, the
documented wrappers, and ways to run sladesk as each account.

Everything follows docs/deployment.md, whose scripts are read from the page itself
and installed with their paths and group names made unique (a prefix of random
letters, under one temporary directory), so the page is what is tested and two runs
never collide. Needs root (it creates accounts); `setup_problem()` says what is missing.

The install is a venv built from the system Python (`/usr/bin/python3`), which every
account can execute: the checkout's own `.venv` points at a Python under `/root`
(pyenv, uv), which other accounts cannot enter. It is built with `uv` from its cache
(`uv venv --python /usr/bin/python3`, `uv pip install`), which makes the same venv as
the page's `python3 -m venv` + `pip install` in seconds and without the network.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import string
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "deployment.md"
SYSTEM_PYTHON = "/usr/bin/python3"
TOOLS = ("useradd", "userdel", "groupadd", "groupdel", "usermod", "setpriv", "runuser", "sqlite3")
SSH_TOOLS = ("sudo", "visudo", "/usr/sbin/sshd", "ssh", "ssh-keygen", "sftp")
ROLES = ("admin", "lead", "agent", "feed", "outsider", "sshagent")
TIMEOUT_S = 120
T0 = time.time() - 3 * 3600
JUSTIFICATION = "Customer asked to wait for their change window"


def created(eid: str, ticket: str, at: float) -> str:
    """One `created` event as a JSON line (without the newline)."""
    return json.dumps(
        {
            "id": eid,
            "ticket": ticket,
            "type": "created",
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
            "customer": "acme",
            "priority": "P1",
            "title": "Payroll down",
        }
    )


def need(problem: str | None) -> None:
    """Skip with the reason, except in CI (CI=true), where a missing piece is a failure."""
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(problem)
    pytest.skip(problem)


def setup_problem() -> str | None:
    """Why this machine cannot run the real-account tests, or None."""
    if os.geteuid() != 0:
        return "the real-account tests create Unix accounts: run as root (CI does)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools for the real-account tests: {', '.join(missing)} (.ci/unix.sh installs them)"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"no system Python at {SYSTEM_PYTHON}"
    if _uv() is None:
        return "uv is needed to build the test install"
    return None


def ssh_problem() -> str | None:
    missing = [t for t in SSH_TOOLS if shutil.which(t) is None]
    if missing:
        return (
            f"missing for the sshd test: {', '.join(missing)} (.ci/unix.sh installs sudo and openssh-server)"
        )
    return None


def _uv() -> str | None:
    return os.environ.get("UV") or shutil.which("uv")


def doc_blocks() -> list[str]:
    """Every fenced code block of docs/deployment.md, in order."""
    return re.findall(r"```[a-z]*\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def doc_block(marker: str) -> str:
    """The one block of the page that contains `marker`."""
    found = [b for b in doc_blocks() if marker in b]
    assert len(found) == 1, f"docs/deployment.md: {len(found)} blocks contain {marker!r}"
    return found[0]


def run(
    cmd: Sequence[str], *, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        list(cmd),
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} exited {r.returncode}: {r.stderr}")
    return r


@dataclass
class Host:
    """One throwaway installation; `users[role]` is that role's account name."""

    root: Path
    prefix: str
    users: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    sudoers: Path | None = None

    @classmethod
    def create(cls) -> Host:
        """Under /tmp directly: pytest's own temporary folders are 0700, closed to the accounts."""
        prefix = "sk" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
        root = Path(tempfile.mkdtemp(prefix=f"sladesk-unix-{prefix}-", dir="/tmp"))
        root.chmod(0o755)
        host = cls(root, prefix)
        try:
            host._install()
        except BaseException:
            host.remove()
            raise
        return host

    # ---- names and paths ------------------------------------------------------------

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def data_dir(self) -> Path:
        return self.root / "srv"

    @property
    def db(self) -> Path:
        return self.data_dir / "team.db"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def team(self) -> Path:
        return self.root / "libexec" / "sladesk-team"

    def home(self, role: str) -> Path:
        return self.root / "home" / self.users[role]

    def render(self, text: str) -> str:
        """A block of the page with this host's paths and group names."""
        for old, new in (
            ("/usr/local/libexec/", f"{self.root}/libexec/"),
            ("/usr/local/bin/sladesk", f"{self.root}/bin/sladesk"),
            ("/opt/sladesk/venv", str(self.venv)),
            ("/srv/sladesk", str(self.data_dir)),
            ("/var/backups/sladesk", str(self.backups)),
            ("sladesk-data", self.groups["data"]),
            ("sladesk-admin", self.groups["admin"]),
            ("sladesk-feed", self.groups["feed"]),
            ("sladesk-ssh-only", self.groups["ssh"]),
            ("%sladesk ", f"%{self.groups['people']} "),
        ):
            text = text.replace(old, new)
        return text

    # ---- set-up and removal -----------------------------------------------------------

    def _install(self) -> None:
        p = self.prefix
        self.groups = {
            "data": f"{p}-data",
            "people": p,
            "admin": f"{p}-admin",
            "feed": f"{p}-feed",
            "ssh": f"{p}-ssh",
        }
        # The service account and its group (the page's useradd line, our names).
        run(
            [
                "useradd", "--system", "--user-group", "--home-dir", str(self.data_dir),
                "--no-create-home", "--shell", "/usr/sbin/nologin", self.groups["data"],
            ]
        )  # fmt: skip
        self.users["data"] = self.groups["data"]
        for key in ("people", "admin", "feed", "ssh"):
            run(["groupadd", self.groups[key]])
        run(
            [
                "install",
                "-d",
                "-m",
                "2770",
                "-o",
                self.groups["data"],
                "-g",
                self.groups["data"],
                str(self.data_dir),
            ]
        )
        (self.root / "home").mkdir(mode=0o755)
        member_of = {
            "admin": ["people", "admin"],
            "lead": ["people"],
            "agent": ["people"],
            "feed": ["people", "feed"],
            "outsider": [],
            "sshagent": ["people", "ssh"],
        }
        for role in ROLES:
            name = f"{p}_{role}"
            self.users[role] = name
            groups = ",".join(self.groups[g] for g in member_of[role])
            run(
                [
                    "useradd", "--create-home", "--home-dir", str(self.root / "home" / name),
                    "--shell", "/bin/sh", "--password", "*", *(["--groups", groups] if groups else []), name,
                ]
            )  # fmt: skip
        self._install_sladesk()
        self._install_wrappers()

    def _install_sladesk(self) -> None:
        uv = _uv()
        assert uv is not None
        run([uv, "venv", "--quiet", "--python", SYSTEM_PYTHON, str(self.venv)])
        run([uv, "pip", "install", "--quiet", "--python", str(self.venv / "bin" / "python"), str(REPO)])
        run(["chmod", "-R", "go-w,a+rX", str(self.venv)])

    def _install_wrappers(self) -> None:
        libexec, bindir = self.root / "libexec", self.root / "bin"
        libexec.mkdir(mode=0o755)
        bindir.mkdir(mode=0o755)
        scripts = {
            libexec / "sladesk-team": doc_block("# /usr/local/libexec/sladesk-team: run by"),
            libexec / "sladesk-team-ssh": doc_block("# /usr/local/libexec/sladesk-team-ssh:"),
            libexec / "sladesk-ssh": doc_block('"""/usr/local/libexec/sladesk-ssh:'),
            bindir / "sladesk": doc_block("exec sudo -g sladesk-data /usr/local/libexec/sladesk-team"),
        }
        for path, text in scripts.items():
            path.write_text(self.render(text), encoding="utf-8")
            path.chmod(0o755)
        if shutil.which("visudo"):
            rules = self.render(doc_block("# /etc/sudoers.d/sladesk"))
            staged = self.root / "sudoers"
            staged.write_text(rules, encoding="utf-8")
            run(["visudo", "-cf", str(staged)])
            self.sudoers = Path("/etc/sudoers.d") / f"zz-{self.prefix}"  # no dot: sudo skips names with one
            shutil.copyfile(staged, self.sudoers)
            self.sudoers.chmod(0o440)

    def remove(self) -> None:
        """Remove every account, group and file this host made (best effort, all of it)."""
        if self.sudoers is not None:
            self.sudoers.unlink(missing_ok=True)
        for role, name in self.users.items():
            if role != "data":
                subprocess.run(["userdel", name], capture_output=True, check=False)
        if "data" in self.users:
            subprocess.run(["userdel", self.users["data"]], capture_output=True, check=False)
        for key, name in self.groups.items():
            if key != "data":
                subprocess.run(["groupdel", name], capture_output=True, check=False)
        subprocess.run(["groupdel", self.groups.get("data", "")], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- running things as the accounts ----------------------------------------------------

    def as_operator(
        self, role: str, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`sladesk ARGS` as `role` through the documented wrapper, with the uid and groups
        `sudo -g DATA` gives: the operator's own uid, the data group, their own groups,
        and a reset environment."""
        return self._setpriv(role, self.groups["data"], [str(self.team), *args], stdin=stdin, env=env)

    def around_wrapper(
        self, role: str, *args: str, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """sladesk itself as `role` with the data group, as if the wrapper were bypassed:
        what sladesk's own checks must hold against."""
        cmd = [str(self.venv / "bin" / "python"), "-I", "-m", "sladesk_tui", *args]
        return self._setpriv(role, self.groups["data"], cmd, stdin=stdin, env={"SLADESK_DB": str(self.db)})

    def as_plain(self, role: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        """Any command as `role` with only their own groups (no data group)."""
        return self._setpriv(role, None, list(cmd))

    def _setpriv(
        self,
        role: str,
        group: str | None,
        cmd: list[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        user = self.users[role]
        regid = group or user if role != "outsider" else user
        extra = [f"{k}={v}" for k, v in (env or {}).items()]
        full = [
            "setpriv", f"--reuid={user}", f"--regid={regid}", "--init-groups", "--reset-env",
            "env", "-C", str(self.home(role)) if role != "data" else "/", *extra, *cmd,
        ]  # fmt: skip
        return run(full, stdin=stdin, check=False)

    def as_service(self, *cmd: str, umask: str = "022") -> subprocess.CompletedProcess[str]:
        """A command line as the service account (its cron jobs), under `umask`."""
        return run(
            ["runuser", "-u", self.users["data"], "--", "sh", "-c", f"umask {umask}; {' '.join(cmd)}"],
            check=False,
        )

    def sqlite(self, sql: str) -> list[tuple[object, ...]]:
        """Read the team database as root (the test's own eyes)."""
        conn = sqlite3.connect(f"{self.db.as_uri()}?mode=ro", uri=True)
        try:
            return [tuple(r) for r in conn.execute(sql)]
        finally:
            conn.close()
