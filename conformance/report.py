"""Tables from the JUnit XML that ``conformance/run.sh`` has pytest write,
one file per suite file (``<out>/<name>.xml``).

- ``table OUT FILE...``: one row per suite file (passed, failed, skipped,
  errors, seconds), a TOTAL row, and a last line pytest-style
  (``conformance: N passed, N failed, N skipped``) that CI logs can be read
  by. Exit 0 only when nothing failed or errored and something passed; a
  file without XML (pytest crashed or timed out) counts as one error.
- ``details OUT FILE...``: every test that did not pass, as
  ``<outcome> <file>::<class>::<test>  <first line of the message>`` — the
  raw material of a failure map.

Stdlib only: it runs with whatever Python runs the suite.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("failure", "error", "skipped")


@dataclass(frozen=True)
class FileResult:
    name: str  # the suite file, e.g. "test_object.py"
    passed: int
    failed: int
    skipped: int
    errors: int
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class NotPassed:
    outcome: str  # one of OUTCOMES
    test_id: str
    message: str


def result_name(suite_file: str) -> str:
    """run.sh's name for a suite file's results: its path under
    test/functional without ``.py``, ``/`` as ``_`` (``s3api/test_object.py``
    is ``s3api_test_object``, apart from ``test_object``)."""
    return suite_file.removesuffix(".py").replace("/", "_")


def junit_path(out: Path, suite_file: str) -> Path:
    return out / f"{result_name(suite_file)}.xml"


def _cases(root: ET.Element) -> list[ET.Element]:
    return list(root.iter("testcase"))


def timed_out(out: Path, suite_file: str) -> bool:
    """run.sh leaves pytest's exit status in ``<name>.rc``; timeout(1) gives 124
    (or 137 when it had to kill)."""
    try:
        return (out / f"{result_name(suite_file)}.rc").read_text().strip() in ("124", "137")
    except OSError:
        return False


def read_result(out: Path, suite_file: str) -> FileResult:
    note = "TIMEOUT" if timed_out(out, suite_file) else ""
    try:
        root = ET.parse(junit_path(out, suite_file)).getroot()
    except (OSError, ET.ParseError):
        return FileResult(suite_file, 0, 0, 0, 1, 0.0, note or "no junit xml: see the .log")
    counts = dict.fromkeys(OUTCOMES, 0)
    for case in _cases(root):
        for outcome in OUTCOMES:
            if case.find(outcome) is not None:
                counts[outcome] += 1
                break
    total = len(_cases(root))
    suites = [root] if root.tag == "testsuite" else list(root)
    seconds = sum(float(s.get("time", 0) or 0) for s in suites)
    passed = total - sum(counts.values())
    return FileResult(suite_file, passed, counts["failure"], counts["skipped"], counts["error"], seconds, note)


def not_passed(out: Path, suite_file: str) -> list[NotPassed]:
    try:
        root = ET.parse(junit_path(out, suite_file)).getroot()
    except (OSError, ET.ParseError):
        return [NotPassed("error", suite_file, "no junit xml: see the .log")]
    found = []
    for case in _cases(root):
        for outcome in OUTCOMES:
            element = case.find(outcome)
            if element is None:
                continue
            classname = case.get("classname", "").rpartition(".")[2]
            test_id = f"{suite_file}::{classname}::{case.get('name', '?')}"
            message = (element.get("message") or element.text or "").strip().splitlines()
            found.append(NotPassed(outcome, test_id, message[0][:300] if message else ""))
            break
    return found


ROW = "{:<28} {:>6} {:>6} {:>7} {:>6} {:>7}  {}"


def render_table(results: list[FileResult]) -> str:
    lines = [ROW.format("FILE", "passed", "failed", "skipped", "errors", "secs", "")]
    for r in results:
        lines.append(ROW.format(r.name, r.passed, r.failed, r.skipped, r.errors, f"{r.seconds:.0f}", r.note))
    total = [sum(getattr(r, f) for r in results) for f in ("passed", "failed", "skipped", "errors")]
    seconds = sum(r.seconds for r in results)
    lines.append(ROW.format("TOTAL", *total, f"{seconds:.0f}", ""))
    passed, failed, skipped, errors = total
    lines.append(f"conformance: {passed} passed, {failed + errors} failed, {skipped} skipped")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] not in ("table", "details"):
        print(__doc__, file=sys.stderr)
        return 2
    out, files = Path(argv[1]), argv[2:]
    if argv[0] == "details":
        for suite_file in files:
            for item in not_passed(out, suite_file):
                print(f"{item.outcome:<8} {item.test_id}  {item.message}")
        return 0
    results = [read_result(out, f) for f in files]
    print(render_table(results))
    bad = sum(r.failed + r.errors for r in results)
    return 0 if bad == 0 and sum(r.passed for r in results) > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
