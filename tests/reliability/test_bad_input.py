"""Bad input is refused cleanly (docs/agreements.md, docs/formats.md): exit 2, one `FILE:LINE: reason` line, no change.

The corpus is `tests/data/bad/`; its README's table says, per file, the line and a
fragment of the reason expected. Every file runs in-process through
`sladesk_tui.cli.main` (fast), a few also through the real command in a child process,
and the 10 MB line is generated here.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from rel_support import AGREEMENTS_TOML, CHILD_TIMEOUT_S, child_env, fingerprint, sladesk
from support import give_roles

from sladesk_tui.cli import main
from sladesk_tui.core.eventfile import MAX_LINE_BYTES
from sladesk_tui.store.identity import login_user

BAD = Path(__file__).resolve().parents[1] / "data" / "bad"
BASE_EVENTS = (
    '{"id":"base-1","ticket":"T-1","at":"2026-11-27T08:05:00Z","type":"created","customer":"acme",'
    '"priority":"P2","title":"Invoices fail to post"}\n'
    '{"id":"base-2","ticket":"T-1","at":"2026-11-27T08:40:00Z","type":"reply","author":"sam"}\n'
)
CREATED = (
    '{"id":"c1","ticket":"N-1","at":"2026-11-27T09:00:00Z","type":"created","customer":"acme",'
    '"priority":"P2","title":"Printer on fire"}\n'
)


@dataclass(frozen=True, slots=True)
class Case:
    file: str
    line: int | None  # None: the whole file is the problem (`FILE: reason`)
    reason: str
    exercises: str

    @property
    def command(self) -> str:
        return "load" if self.file.endswith(".toml") else "import"


def _corpus() -> list[Case]:
    cases = []
    for row in (BAD / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if not row.startswith("| ") or len(cells) != 4 or cells[0] == "file":
            continue
        file, line, reason, exercises = cells
        cases.append(Case(file, None if line == "-" else int(line), reason, exercises))
    return cases


CORPUS = _corpus()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    db = d / "desk.db"
    (d / "agreements.toml").write_text(AGREEMENTS_TOML, encoding="utf-8")
    (d / "base.jsonl").write_text(BASE_EVENTS, encoding="utf-8")
    # The refusals under test are of the input, not of the caller: everyone here may load and import.
    for role in ("admin", "feed"):
        give_roles(db, role, "admin", "feed", "tester", login_user())
    assert main(["load", "--db", str(db), str(d / "agreements.toml")], operator="admin") == 0
    assert main(["import", "--db", str(db), str(d / "base.jsonl")], operator="feed") == 0
    return db


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "desk.db"
    shutil.copy(template, copy)
    return copy


def _check_refusal(code: int, out: str, err: str, path: str, line: int | None, reason: str) -> None:
    assert code == 2, (out, err)
    assert "Traceback" not in err
    first = err.splitlines()[0]
    where = f"{path}:{line}" if line is not None else path
    assert first.startswith(f"sladesk: {where}: "), first
    assert reason in first, first
    assert not out.strip()  # nothing claims success


def test_corpus_is_listed_whole() -> None:
    on_disk = {p.name for p in BAD.iterdir() if p.name != "README.md"}
    listed = [c.file for c in CORPUS]
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert set(listed) == on_disk
    assert len(on_disk) >= 40
    assert all((BAD / name).stat().st_size <= 8192 for name in on_disk)  # small: the big one is generated


@pytest.mark.parametrize("case", CORPUS, ids=[c.file for c in CORPUS])
def test_bad_file_is_refused_and_changes_nothing(
    db: Path, case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(db)
    path = str(BAD / case.file)
    code = main([case.command, "--db", str(db), path], operator="tester")
    captured = capsys.readouterr()
    _check_refusal(code, captured.out, captured.err, path, case.line, case.reason)
    assert fingerprint(db) == before


SUBPROCESS_CASES = [
    "ag_non_utf8.toml",
    "ag_hours_overlap.toml",
    "ev_non_utf8.jsonl",
    "ev_bom_mid_file.jsonl",
    "ev_csv_missing_required_column.csv",
    "ev_duplicate_id_stored.jsonl",
    "ev_empty.jsonl",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_command_refuses_cleanly(db: Path, name: str) -> None:
    case = next(c for c in CORPUS if c.file == name)
    before = fingerprint(db)
    path = str(BAD / name)
    r = sladesk(case.command, "--db", db, path)
    _check_refusal(r.returncode, r.stdout, r.stderr, path, case.line, case.reason)
    assert len(r.stderr.splitlines()) == 1
    assert fingerprint(db) == before


def test_bad_input_on_stdin_is_refused(db: Path) -> None:
    before = fingerprint(db)
    r = subprocess.run(
        [sys.executable, "-m", "sladesk_tui", "import", "--db", str(db), "-"],
        input=(BAD / "ev_unknown_ticket.jsonl").read_bytes(),
        capture_output=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    _check_refusal(r.returncode, r.stdout.decode(), r.stderr.decode(), "<stdin>", 2, "unknown ticket 'N-404'")
    assert fingerprint(db) == before


@pytest.mark.parametrize(
    "argv",
    [
        [
            b"override",
            b"T-1",
            b"extend",
            b"--clock",
            b"resolution",
            b"--by",
            b"30m",
            b"--reason",
            b"other",
            b"--justification",
            b"customer asked to wait \xff\xfe",
        ],
        [b"ticket", b"T-\xe9"],
        [b"import", b"/tmp/caf\xe9.jsonl"],
    ],
    ids=["justification", "ticket", "file name"],
)
def test_arguments_that_are_not_utf8_are_refused(db: Path, argv: list[bytes]) -> None:
    """Bytes that are not UTF-8 reach Python's argv as lone surrogates: refused up front."""
    before = fingerprint(db)
    r = subprocess.run(
        [sys.executable.encode(), b"-m", b"sladesk_tui", b"--db", bytes(db), *argv],
        capture_output=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.startswith("sladesk: argument '") and err.rstrip().endswith("is not valid UTF-8 text"), err
    assert len(err.splitlines()) == 1
    assert fingerprint(db) == before


def _ten_megabyte_line(path: Path, *, csv: bool) -> Path:
    body = "x" * (10 * 1024 * 1024)
    with path.open("w", encoding="utf-8") as f:
        if csv:
            f.write("id,type,at,ticket,body\n")
            f.write(f"n1,note,2026-11-27T09:05:00Z,T-1,{body}\n")
        else:
            f.write(CREATED)
            f.write(
                '{"id":"n1","ticket":"N-1","at":"2026-11-27T09:05:00Z","type":"note","body":"' + body + '"}\n'
            )
    return path


@pytest.mark.parametrize("csv", [False, True], ids=["jsonl", "csv"])
def test_ten_megabyte_line_is_refused(
    db: Path, tmp_path: Path, csv: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    big = _ten_megabyte_line(tmp_path / ("big.csv" if csv else "big.jsonl"), csv=csv)
    assert big.stat().st_size > 10 * 1024 * 1024
    before = fingerprint(db)
    code = main(["import", "--db", str(db), str(big)], operator="tester")
    captured = capsys.readouterr()
    _check_refusal(code, captured.out, captured.err, str(big), 2, "line is too long")
    assert f"at most {MAX_LINE_BYTES:,}" in captured.err
    assert fingerprint(db) == before


def test_ten_megabyte_line_through_the_real_command(db: Path, tmp_path: Path) -> None:
    big = _ten_megabyte_line(tmp_path / "big.jsonl", csv=False)
    before = fingerprint(db)
    r = sladesk("import", "--db", db, big)
    _check_refusal(r.returncode, r.stdout, r.stderr, str(big), 2, "line is too long")
    assert "reading stopped, nothing imported" in r.stderr
    assert fingerprint(db) == before


# Peak memory of a child refusing endless or huge input. Python, sqlite3 and the
# package take about 30 MB; reading whole a 300 MB line (or /dev/zero) takes far more.
PEAK_RSS_LIMIT_KB = 120 * 1024


# The child reports its own peak resident memory (VmHWM of /proc/self/status, which
# belongs to the process image after exec): the rusage of a child forked from a large
# pytest process would start at the parent's size.
_REPORT_PEAK = """
import runpy, sys
out = sys.argv.pop(1)
try:
    runpy.run_module("sladesk_tui", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as f:
        peak = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    with open(out, "w") as f:
        f.write(peak)
"""


def _peak_rss_kb(tmp_path: Path, *args: str | os.PathLike[str]) -> tuple[int, str, int]:
    """Run `sladesk ARGS` as a child under a 2 GB address-space cap; return its exit
    status, its stderr and its peak resident memory in KB."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    peak_file = tmp_path / "child.peak"
    proc = subprocess.Popen(
        [sys.executable, "-c", _REPORT_PEAK, str(peak_file), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        preexec_fn=cap,
    )
    try:
        _, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"sladesk {args} did not stop reading") from None
    return proc.returncode, err, int(peak_file.read_text())


@pytest.mark.parametrize("what", ["import-dev-zero", "import-300mb-line", "load-dev-zero"])
def test_input_without_line_breaks_is_refused_with_bounded_memory(
    db: Path, tmp_path: Path, what: str
) -> None:
    before = fingerprint(db)
    if what == "import-300mb-line":
        path = tmp_path / "one-line.jsonl"
        with path.open("wb") as f:
            f.write(b'{"id":"x","body":"')
            f.truncate(300 * 1024 * 1024)  # a sparse 300 MB file: one line of NUL bytes after the start
        code, err, peak_kb = _peak_rss_kb(tmp_path, "import", "--skip-invalid", "--db", db, path)
        reason = "line is too long"
    elif what == "import-dev-zero":
        path = Path("/dev/zero")
        code, err, peak_kb = _peak_rss_kb(tmp_path, "import", "--db", db, path)
        reason = "line is too long"
    else:
        path = Path("/dev/zero")
        code, err, peak_kb = _peak_rss_kb(tmp_path, "load", "--db", db, path)
        reason = "larger than"
    assert code == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"sladesk: {path}"), err
    assert reason in err
    assert peak_kb < PEAK_RSS_LIMIT_KB, f"peak RSS {peak_kb} KB"
    assert fingerprint(db) == before


def test_a_leading_bom_is_accepted(db: Path, tmp_path: Path) -> None:
    """The other side of the BOM cases: a BOM before a good file is no problem."""
    events = tmp_path / "bom.csv"
    events.write_bytes(b"\xef\xbb\xbfid,type,at,ticket,author\nr1,reply,2026-11-27T09:05:00Z,T-1,sam\n")
    agreements = tmp_path / "bom.toml"
    agreements.write_bytes(b"\xef\xbb\xbf" + AGREEMENTS_TOML.replace("ACME standard", "ACME std").encode())
    assert main(["import", "--db", str(db), str(events)], operator="tester") == 0
    assert main(["load", "--db", str(db), str(agreements)], operator="tester") == 0
    r = sladesk("audit", "verify", "--db", db)
    assert r.returncode == 0, r.stderr


def test_refusals_leave_a_verifiable_log(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After the whole corpus thrown at one database, its audit log is exactly as before."""
    head = sladesk("audit", "head", "--db", db).stdout
    for case in CORPUS:
        assert main([case.command, "--db", str(db), str(BAD / case.file)], operator="tester") == 2
    capsys.readouterr()
    r = sladesk("audit", "verify", "--db", db)
    assert r.returncode == 0 and head.strip() in r.stdout
