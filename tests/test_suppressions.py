"""Every silenced check says why, on the same line: `# type: ignore[code]  # reason`
and `# noqa: CODE - reason`. A bare suppression hides a finding nobody can judge later."""

from __future__ import annotations

import pathlib
import re
import tokenize

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = ("sladesk_tui", "tests", "benchmarks")
_IGNORE = re.compile(r"type:\s*ignore(?P<codes>\[[^\]]*\])?(?P<rest>.*)")
_NOQA = re.compile(r"noqa(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)")


def bare_suppressions(path: pathlib.Path) -> list[str]:
    """`file:line` of each suppression comment in `path` without codes or a reason."""
    bad = []
    with path.open("rb") as fh:
        for tok in tokenize.tokenize(fh.readline):
            if tok.type != tokenize.COMMENT:
                continue
            for pattern in (_IGNORE, _NOQA):
                m = pattern.search(tok.string)
                if m is None:
                    continue
                reason = m["rest"].strip(" #-:")
                if not m["codes"] or not reason:
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                    bad.append(f"{where}:{tok.start[0]}: {tok.string}")
    return bad


def test_every_suppression_names_its_codes_and_reason() -> None:
    paths = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))
    assert paths, "no sources found"
    bad = [line for path in paths for line in bare_suppressions(path)]
    assert bad == []


def test_a_bare_suppression_is_found(tmp_path: pathlib.Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "x = 1  # type: ignore[misc]\n"
        "y = 2  # noqa: E501\n"
        "z = 3  # type: ignore[misc]  # a reason\n"
        "w = 4  # noqa: E501 - a reason\n"
    )
    found = bare_suppressions(sample)
    assert [f.split(":")[1] for f in found] == ["1", "2"]
