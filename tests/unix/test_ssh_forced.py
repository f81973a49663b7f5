"""The documented sudo and sshd set-up, for real: sudo's environment reset, and an
sshd on 127.0.0.1 (a free port) with the page's `Match`/`ForceCommand` block and key
logins. Installs nothing itself: sudo and openssh-server come from .ci/unix.sh
(apt-get); without them the test skips with the reason, except in CI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from unix_host import JUSTIFICATION, Host, doc_block, need, run, ssh_problem

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(host: Host) -> Iterator[tuple[int, Path]]:
    """An sshd of our own on 127.0.0.1 with the page's Match block; (port, client key)."""
    need(ssh_problem())
    d = host.root / "ssh"
    d.mkdir(mode=0o700)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")])
    user = host.users["sshagent"]
    home = host.home("sshagent")
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(mode=0o700, exist_ok=True)
    (dot_ssh / "authorized_keys").write_text((d / "client_key.pub").read_text())
    # What an account that can write its home would try: both must never run.
    # (The markers go to the home: the one place the account can write.)
    (home / ".bashrc").write_text(f"touch {home}/bashrc-ran\n")
    (dot_ssh / "rc").write_text(f"touch {home}/sshrc-ran\n")
    run(["chown", "-R", f"{user}:{user}", str(home)])
    (dot_ssh / "authorized_keys").chmod(0o600)
    # A control: an account outside the Match group logs in with the same key and gets sftp.
    other = host.home("agent") / ".ssh"
    other.mkdir(mode=0o700, exist_ok=True)
    (other / "authorized_keys").write_text((d / "client_key.pub").read_text())
    run(["chown", "-R", f"{host.users['agent']}:{host.users['agent']}", str(other)])
    port = free_port()
    config = d / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nAuthorizedKeysFile .ssh/authorized_keys\nStrictModes yes\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\nLogLevel VERBOSE\n"
        + host.render(doc_block("# /etc/ssh/sshd_config.d/sladesk.conf"))
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    run([SSHD, "-t", "-f", str(config)])
    log = (d / "sshd.log").open("w")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(f"sshd did not start: {(d / 'sshd.log').read_text()}") from None
                time.sleep(0.05)
        yield port, d / "client_key"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def ssh(
    host: Host, sshd: tuple[int, Path], *command: str, sftp: bool = False, role: str = "sshagent"
) -> subprocess.CompletedProcess[str]:
    port, key = sshd
    options = [
        "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    ]  # fmt: skip
    target = f"{host.users[role]}@127.0.0.1"
    if sftp:
        return run(["sftp", "-b", "-", "-P", str(port), *options, target], stdin=b"ls /\n", check=False)
    return run(["ssh", "-p", str(port), *options, target, *command], check=False)


def test_forced_command_allows_sladesk_and_nothing_else(host: Host, sshd: tuple[int, Path]) -> None:
    r = ssh(host, sshd, "sladesk", "queue")
    assert r.returncode == 0, r.stderr
    assert "T-1" in r.stdout

    r = ssh(host, sshd, "bash")
    assert r.returncode == 2 and r.stderr.strip() == "sladesk: bash: not a command you may run here"

    r = ssh(host, sshd, "sladesk queue; id")
    assert r.returncode == 2 and "queue;: not a command you may run here" in r.stderr
    assert "uid=" not in r.stdout

    r = ssh(host, sshd, "sladesk", "import", "-")  # an agent: not a feed account
    assert r.returncode == 2 and "import: not a command you may run here" in r.stderr

    r = ssh(host, sshd, sftp=True)  # the sftp subsystem is replaced by the forced command too
    assert r.returncode != 0 and "Connection closed" in r.stderr, r.stderr
    r = ssh(host, sshd, sftp=True, role="agent")  # the control: sftp itself works on this sshd
    assert r.returncode == 0 and "sftp> ls /" in r.stdout, r.stderr

    # Neither file the account could write ran before the forced command. (~/.bashrc
    # does run when bash is the login shell, hence /bin/sh; sshd itself skips ~/.ssh/rc
    # under a ForceCommand, and the page's PermitUserRC no repeats it.)
    home = host.home("sshagent")
    assert not (home / "bashrc-ran").exists()
    assert not (home / "sshrc-ran").exists()


def test_the_audit_source_is_the_ssh_client_only_on_the_forced_path(
    host: Host, sshd: tuple[int, Path]
) -> None:
    r = ssh(
        host, sshd, "sladesk", "override", "T-1", "hold", "--until", "+1h",
        "--reason", "third_party", "--justification", f"'{JUSTIFICATION}'",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = host.sqlite(
        f"SELECT source FROM audit_log WHERE actor = '{host.users['sshagent']}' AND action = 'override.record'"
    )
    assert rows == [("ssh:127.0.0.1",)]

    # From a shell, through the real sudo: a forged SSH_CONNECTION is dropped (source local).
    agent = host.users["agent"]
    r = run(
        [
            "runuser", "-u", agent, "--", "env", "SSH_CONNECTION=203.0.113.66 4242 127.0.0.1 22",
            f"{host.root}/bin/sladesk", "override", "T-1", "extend", "--clock", "response", "--by", "5m",
            "--reason", "other", "--justification", JUSTIFICATION,
        ],
        check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    rows = host.sqlite(
        f"SELECT source FROM audit_log WHERE actor = '{agent}' AND action = 'override.record' ORDER BY seq DESC LIMIT 1"
    )
    assert rows == [("local",)]
    # And a shell account cannot take the ssh path's sudo rule.
    r = run(
        ["runuser", "-u", agent, "--", "sudo", "-n", "-g", host.groups["data"], f"{host.root}/libexec/sladesk-team-ssh", "queue"],
        check=False,
    )  # fmt: skip
    assert r.returncode != 0 and "T-1" not in r.stdout
