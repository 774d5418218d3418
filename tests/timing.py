"""A pytest plugin: the ten slowest tests (setup, call and teardown together) at the end of a
run, and every test's time in ``test-artifacts/timings.json`` (git-ignored) for CI to keep.

pytest's own ``--durations`` lists phases apart, so a shared fixture's cost (the built project,
the S3 server) shows up as the setup of whichever test needed it first; this sums the phases
per test, as a reader of CI's log wants them. Under pytest-xdist the controller receives every
worker's reports, so it sees the whole run.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

SLOWEST = 10
REPORT = Path(__file__).resolve().parents[1] / "test-artifacts" / "timings.json"

_seconds: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.nodeid] += report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _seconds or hasattr(terminalreporter.config, "workerinput"):
        return  # nothing ran, or an xdist worker: the controller reports
    ranked = sorted(_seconds.items(), key=lambda item: item[1], reverse=True)
    terminalreporter.section(f"{SLOWEST} slowest tests (setup + call + teardown)")
    for nodeid, seconds in ranked[:SLOWEST]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {nodeid}")
    total = sum(_seconds.values())
    terminalreporter.write_line(f"{total:8.1f} s  in all {len(ranked)} tests "
                                f"(summed over workers)")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({nodeid: round(seconds, 3) for nodeid, seconds in ranked},
                                 indent=1) + "\n")
