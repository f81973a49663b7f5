"""Remote access over TLS, as docs/postgresql.md sets it up ("pg_hba.conf: who may connect").

A server of its own (initdb into a throwaway directory) with the page's TLS settings:
a test CA signs the server's certificate (for 127.0.0.1) and the people's; pg_hba
admits only `hostssl` lines, one person by client certificate, the rest by password
(scram), and rejects plain `host`. Against it, through the real `sladesk` command:

- a password login with `sslmode=verify-full` works, and the session is encrypted;
- the same login without TLS is refused, in one line, without the password;
- `verify-full` refuses a server whose certificate another CA signed;
- a certificate login needs no password, and the operator recorded on a write is the
  certificate's name (session_user), never a name the client sends; the same
  certificate does not let its holder in as another person who logs in by certificate.

The server runs as the postgres account, so this needs root, as CI has.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pg_cluster import (
    as_postgres,
    data_directory,
    free_port,
    pg_bin,
    problem,
    skip_or_fail,
    sladesk,
    start,
    stop,
    write_owned,
)
from pg_desk import Desk, make_desk
from pg_support import PgServer

OVERRIDE = (
    "override", "T-1", "extend", "--clock", "resolution", "--by", "10m",
    "--reason", "third_party", "--justification", "the vendor's fix lands tomorrow",
)  # fmt: skip


def openssl(*args: str, cwd: Path) -> None:
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False)
    assert r.returncode == 0, f"openssl {args[0]}: {r.stderr}"


def make_ca(folder: Path, name: str) -> None:
    """`name.crt`/`name.key`: a self-signed CA (P-256: fast to make)."""
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={name}",
        cwd=folder,
    )  # fmt: skip


def sign(folder: Path, ca: str, name: str, cn: str, *, ip: str | None = None) -> None:
    """`name.crt`/`name.key` for `cn`, signed by `ca` (with an IP subjectAltName for a server)."""
    openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
        cwd=folder,
    )  # fmt: skip
    extra: list[str] = []
    if ip:
        (folder / f"{name}.ext").write_text(f"subjectAltName=IP:{ip}\n", encoding="utf-8")
        extra = ["-extfile", f"{name}.ext"]
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", *extra,
        cwd=folder,
    )  # fmt: skip
    (folder / f"{name}.key").chmod(0o600)  # libpq refuses a key others can read


@dataclass
class TlsDesk:
    desk: Desk
    port: int
    certs: Path

    def password_url(self, who: str, **params: str) -> str:
        parts = urllib.parse.urlsplit(self.desk.url(who))
        query = urllib.parse.urlencode({"sslrootcert": str(self.certs / "ca.crt"), **params})
        return urllib.parse.urlunsplit(parts._replace(query=query))

    def certificate_url(self, who: str, cert: str) -> str:
        """`who`'s URL without a password, presenting the client certificate `cert`."""
        query = urllib.parse.urlencode(
            {
                "sslmode": "verify-full",
                "sslrootcert": str(self.certs / "ca.crt"),
                "sslcert": str(self.certs / f"{cert}.crt"),
                "sslkey": str(self.certs / f"{cert}.key"),
            }
        )
        return f"postgresql://{self.desk.role(who)}@127.0.0.1:{self.port}/{self.desk.name}?{query}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsDesk]:
    why = problem("TLS", ("initdb", "pg_ctl", "postgres"))
    if why or shutil.which("openssl") is None:
        skip_or_fail(why or "the TLS test makes its certificates with openssl (apt-get install openssl)")
    certs = tmp_path_factory.mktemp("tls")
    data = data_directory("sladesk_tls")
    port = free_port()
    admin, password = "tls_admin", secrets.token_hex(12)
    # The people's role names carry a per-session prefix; the certificate person's is known now.
    server = PgServer(f"postgresql://{admin}:{password}@127.0.0.1:{port}/postgres?sslmode=require")
    kim, lee = f"{server.prefix}_kim", f"{server.prefix}_lee"
    make_ca(certs, "ca")
    make_ca(certs, "other-ca")
    sign(certs, "ca", "server", "127.0.0.1", ip="127.0.0.1")
    sign(certs, "other-ca", "impostor", "127.0.0.1", ip="127.0.0.1")
    sign(certs, "ca", "kim", kim)
    started = False
    try:
        as_postgres(
            str(pg_bin("initdb")), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
            "--auth-local=peer", "--auth-host=reject",
        )  # fmt: skip
        for name in ("server.crt", "server.key", "ca.crt"):
            shutil.copy(certs / name, data / name)
            shutil.chown(data / name, "postgres", "postgres")
            (data / name).chmod(0o600)
        write_owned(
            data / "postgresql.conf",
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            "ssl_ca_file = 'ca.crt'\nssl_min_protocol_version = 'TLSv1.2'\n"
            "password_encryption = scram-sha-256\nfsync = off\n",
        )
        # The page's lines, on one address: the first matching line decides.
        write_owned(
            data / "pg_hba.conf",
            "local    all  postgres                 peer\n"
            f"hostssl  all  {kim},{lee}  127.0.0.1/32  cert\n"
            "hostssl  all  all    127.0.0.1/32  scram-sha-256\n"
            "host     all  all    0.0.0.0/0     reject\n",
        )
        start(data)
        started = True
        as_postgres(
            str(pg_bin("psql")), "-X", "-q", "-h", str(data), "-p", str(port), "-U", "postgres", "-d", "postgres",
            "-c", f"CREATE ROLE {admin} LOGIN SUPERUSER PASSWORD '{password}'",
        )  # fmt: skip
        desk = make_desk(server, certs, ("admin", "lead", "feed", "ann", "kim", "lee"))
        assert desk.role("kim") == kim
        yield TlsDesk(desk, port, certs)
    finally:
        if started:
            stop(data)
        shutil.rmtree(data, ignore_errors=True)


def test_a_password_login_over_verified_tls_works_and_is_encrypted(tls: TlsDesk) -> None:
    url = tls.password_url("ann", sslmode="verify-full")
    r = sladesk(url, "queue")
    assert r.returncode == 0, r.stderr
    assert "T-1" in r.stdout
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row is not None and row[0] is True and row[1] in ("TLSv1.2", "TLSv1.3")


def test_without_tls_the_server_refuses_in_one_line_without_the_password(tls: TlsDesk) -> None:
    url = tls.password_url("ann", sslmode="disable")
    r = sladesk(url, "queue")
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "no pg_hba.conf entry" in lines[0] or "rejects connection" in lines[0], lines[0]
    assert tls.desk.server.password not in r.stderr


def test_verify_full_refuses_a_server_another_ca_vouches_for(tls: TlsDesk) -> None:
    url = tls.password_url("ann", sslmode="verify-full", sslrootcert=str(tls.certs / "other-ca.crt"))
    r = sladesk(url, "queue")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "certificate verify failed" in r.stderr, r.stderr
    assert tls.desk.server.password not in r.stderr


def test_a_certificate_login_records_the_certificates_name(tls: TlsDesk) -> None:
    url = tls.certificate_url("kim", "kim")
    assert ":" not in urllib.parse.urlsplit(url).netloc.split("@")[0]  # no password at all
    r = sladesk(url, *OVERRIDE)
    assert r.returncode == 0, r.stderr
    operator = tls.desk.admin_scalar("SELECT operator FROM overrides ORDER BY id DESC LIMIT 1")
    assert operator == tls.desk.role("kim")


def test_a_certificate_does_not_let_its_holder_in_as_someone_else(tls: TlsDesk) -> None:
    before = tls.desk.admin_scalar("SELECT count(*) FROM overrides")
    r = sladesk(tls.certificate_url("lee", "kim"), *OVERRIDE)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "certificate authentication failed" in r.stderr, r.stderr
    assert tls.desk.admin_scalar("SELECT count(*) FROM overrides") == before
