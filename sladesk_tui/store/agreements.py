"""Agreement files in the database: each load a new, append-only version.

The file's text is stored whole and re-parsed by core when needed, so a version
means exactly what the file said when it was loaded; the `agreements` rows are an
index of it for queries (which agreement covers a customer). The country holidays a
load computes (`store.holidays`) are stored with it and go with every parsed set.

Loading the file that is already the newest version again is a no-op reported as
"unchanged" (no new version, no audit row): re-running a deployment script must not
grow the version list, while loading an older file after a newer one is a real
change and becomes a new version.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sladesk_tui.core.canonical import canonical_json, sha256_hex
from sladesk_tui.core.errors import InputError
from sladesk_tui.core.text import safe_text
from sladesk_tui.store.audit import RowRange, append_audit
from sladesk_tui.store.backend import Connection
from sladesk_tui.store.db import write_tx
from sladesk_tui.store.holidays import Rows, parse_rows, snapshot_holidays, stored_rows
from sladesk_tui.store.instants import iso_utc, now_ts

# Read limits of an agreements file (a real one is a few kilobytes, a few levels deep).
MAX_FILE_BYTES = 4 << 20
MAX_NESTING = 32

STDIN_NAME = "<stdin>"
"""How agreements read from standard input (`sladesk load -`) are named in messages and versions."""

if TYPE_CHECKING:
    from sladesk_tui.core.agreements import AgreementSet
    from sladesk_tui.core.calendar import HolidaySnapshot


@dataclass(frozen=True, slots=True)
class Loaded:
    """The outcome of `load_agreements_file`."""

    version: int
    agreements: int  # how many agreements the version holds
    unchanged: bool  # the file was already the newest version: nothing written
    warnings: tuple[str, ...]  # from validation, for stderr


def load_agreements_file(
    conn: Connection, path: str | os.PathLike[str], *, actor: str, source: str | None = None
) -> Loaded:
    """Validate the file whole, then store it as a new version in one transaction.

    An invalid file raises `InputError` (``FILE:LINE: reason`` when the TOML itself is
    malformed, else ``FILE: agreement 'x': key: value...``) before anything is written.
    """
    if str(path) == "-":
        # Standard input: agreements loaded over a forced-command SSH login (docs/deployment.md).
        return load_agreements_text(
            conn,
            _decode(_bounded(sys.stdin.buffer, STDIN_NAME), STDIN_NAME),
            name=STDIN_NAME,
            actor=actor,
            source=source,
        )
    p = Path(path)
    text = _read(p)
    aset = _parse(text, safe_text(str(p)), _snapshot(stored_rows(conn)))
    return _store(conn, text, aset, name=safe_text(str(p.resolve())), actor=actor, source=source)


def load_agreements_text(
    conn: Connection, text: str, *, name: str, actor: str, source: str | None = None
) -> Loaded:
    """`load_agreements_file` for a text already in hand (the demo's); `name` stands for
    the file, in messages and as the version's recorded source."""
    aset = _parse(text, name, _snapshot(stored_rows(conn)))
    return _store(conn, text, aset, name=name, actor=actor, source=source)


def _store(
    conn: Connection, text: str, aset: AgreementSet, *, name: str, actor: str, source: str | None
) -> Loaded:
    digest = sha256_hex(text)
    with write_tx(conn):
        latest = conn.execute(
            "SELECT version, source_sha256 FROM agreement_versions ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if latest is not None and latest["source_sha256"] == digest:
            return Loaded(latest["version"], len(aset.agreements), True, aset.warnings)
        version = 1 if latest is None else latest["version"] + 1
        ts = now_ts()
        conn.execute(
            "INSERT INTO agreement_versions (version, loaded_at, loaded_ts, loaded_by, source_name, source_sha256, source_text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (version, iso_utc(ts), ts, actor, name, digest, text),
        )
        conn.executemany(
            "INSERT INTO agreements (version, id, name, customer, services, calendar, valid_from, valid_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    version,
                    a.id,
                    a.name,
                    a.customer,
                    canonical_json(list(a.services)),
                    a.calendar,
                    a.valid_from.isoformat() if a.valid_from else None,
                    a.valid_until.isoformat() if a.valid_until else None,
                )
                for a in aset.agreements
            ],
        )
        # Lookups then never import the slow `holidays` package.
        holidays_added = snapshot_holidays(conn, aset, version)
        covers = [RowRange("agreement_versions", version, version)]
        if aset.agreements:
            covers.append(RowRange("agreements", version, version))
        if holidays_added:
            covers.append(RowRange("holiday_dates", version, version))
        append_audit(
            conn,
            actor=actor,
            action="agreements.load",
            subject=f"agreements v{version}",
            before=None if latest is None else {"version": latest["version"]},
            after={
                "version": version,
                "file": name,
                "sha256": digest,
                "agreements": [a.id for a in aset.agreements],
            },
            source=source,
            covers=covers,
        )
        rows = stored_rows(conn)
    _cache[(digest, rows)] = dataclasses.replace(aset, holidays=_snapshot(rows))
    return Loaded(version, len(aset.agreements), False, aset.warnings)


def current_agreements(conn: Connection, version: int | None = None) -> tuple[int, AgreementSet]:
    """(version, its AgreementSet): the newest when `version` is None.

    With nothing loaded yet: version 0 and an empty set (every ticket "no agreement
    in force"). The set carries the database's holiday snapshot. Each distinct text
    and snapshot is parsed once per process (cached by the text's sha256 and the
    snapshot's rows, so several database files in one process never mix up their
    versions or their holidays).
    """
    if version is None:
        row = conn.execute(
            "SELECT version, source_sha256 FROM agreement_versions ORDER BY version DESC LIMIT 1"
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT version, source_sha256 FROM agreement_versions WHERE version = ?", (version,)
        ).fetchone()
        if row is None:
            raise InputError(f"no agreements version {version}")
    if row is None:
        from sladesk_tui.core.agreements import AgreementSet

        return 0, AgreementSet(calendars={}, agreements=())
    rows = stored_rows(conn)
    key = (row["source_sha256"], rows)
    found = _cache.get(key)
    if found is None:
        text, name = conn.execute(
            "SELECT source_text, source_name FROM agreement_versions WHERE version = ?", (row["version"],)
        ).fetchone()
        found = _cache[key] = _parse(text, name, _snapshot(rows))
    return row["version"], found


def latest_version(conn: Connection, *, at: float | None = None) -> int:
    """The newest agreements version (loaded by `at`, when given), 0 when none is."""
    if at is None:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM agreement_versions").fetchone()
    else:
        row = conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM agreement_versions WHERE loaded_ts <= ?", (at,)
        ).fetchone()
    return int(row[0])


_cache: dict[tuple[str, Rows], AgreementSet] = {}
_snapshots: dict[Rows, HolidaySnapshot] = {}


def _snapshot(rows: Rows) -> HolidaySnapshot | None:
    """One snapshot object per distinct stored rows: the calendars built with it are
    cached by it, and an identical object compares at once."""
    found = _snapshots.get(rows)
    if found is None and rows:
        found = _snapshots[rows] = parse_rows(rows)
    return found


def _read(p: Path) -> str:
    """The file's text. A byte order mark at the start is skipped, as the event importer
    does (Windows editors write one); bytes that are not UTF-8 are reported at their line.

    Limits are enforced while reading, before any parsing: at most `MAX_FILE_BYTES`
    (`/dev/zero` is refused after that many bytes, not read forever) and brackets
    nested at most `MAX_NESTING` deep (the TOML parser recurses once per level).
    """
    where = safe_text(str(p))
    try:
        with p.open("rb") as fh:
            data = _bounded(fh, where)
    except FileNotFoundError:
        raise InputError("no such file", where=where) from None
    except IsADirectoryError:
        raise InputError("is a directory, not an agreements file", where=where) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=where) from None
    return _decode(data, where)


def _bounded(fh: IO[bytes], where: str) -> bytes:
    """At most `MAX_FILE_BYTES` of `fh`; InputError when there is more."""
    data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"larger than {MAX_FILE_BYTES:,} bytes: not an agreements file?", where=where)
    return data


def _decode(data: bytes, where: str) -> str:
    """The text of an agreements file's bytes, refused when not UTF-8 or nested too deeply."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at byte {column} of the line)",
            where=f"{where}:{line}",
        ) from None
    deep = toml_too_deep(text, MAX_NESTING)
    if deep is not None:
        raise InputError(f"arrays or tables nested more than {MAX_NESTING} deep", where=f"{where}:{deep}")
    return text


def toml_too_deep(text: str, limit: int) -> int | None:
    """The line where TOML brackets (`[`, `{`) first nest deeper than `limit`, or None.

    Strings (basic, literal, multi-line) and comments are skipped, so brackets inside
    them do not count; table headers count their own brackets, which is harmless at
    any sensible limit.
    """
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = text[i : i + 3] if text.startswith(c * 3, i) else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\" and c == '"':
                    j += 1
                elif text[j] == "\n" and len(quote) == 1:
                    break  # an unterminated one-line string: the parser reports it
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _parse(text: str, name: str, holidays: HolidaySnapshot | None) -> AgreementSet:
    """Validate with core; its AgreementError is an InputError already naming FILE[:LINE]."""
    from sladesk_tui.core.agreements import load_agreements

    return load_agreements(text, source=name, holidays=holidays)
