"""The behavioural suite: the shipped templates, the three test types, and a malformed file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentiment.evaluation.behaviour import (
    BehaviourError,
    build_cases,
    case_counts,
    failure_rates,
    read_templates,
    typo,
)
from tests.conftest import REPO_ROOT

TEMPLATES = REPO_ROOT / "data" / "behaviour" / "checklist.yaml"
POSITIVE = {"great", "excellent", "wonderful", "fantastic", "amazing", "perfect", "love"}
NEGATIVE = {"terrible", "awful", "horrible", "useless", "disappointing", "broken", "hate",
            "broke"}


def lexicon(texts: list[str]) -> np.ndarray:
    """A word-counting scorer: what the suite must catch (negation, casing and typos fool it)."""
    rows = []
    for text in texts:
        words = {word.strip(".,!?:") for word in text.split()}
        score = len(words & POSITIVE) - len(words & NEGATIVE)
        rows.append([0.8, 0.1, 0.1] if score < 0 else [0.1, 0.1, 0.8] if score > 0
                    else [0.2, 0.6, 0.2])
    return np.array(rows, dtype=np.float32)


def test_the_shipped_suite_has_hundreds_of_cases_of_each_type() -> None:
    cases = build_cases(read_templates(TEMPLATES))
    counts = case_counts(cases)
    assert sum(counts.values()) >= 300 and min(counts.values()) >= 200, counts
    tests = {case.test for case in cases}
    for name in ("a person's name", "a location", "a URL", "an @mention", "a number",
                 "upper case", "a small typo"):
        assert f"invariance: {name}" in tests
    assert {"directional: negation (positive)", "directional: an intensifier (positive)",
            "directional: an appended complaint (positive)"} <= tests


def test_failure_rates_per_type_and_test() -> None:
    rates = failure_rates(build_cases(read_templates(TEMPLATES)), lexicon)
    assert rates["minimum_functionality"] == 0.0  # every template word is in the lexicon
    assert rates["tests"]["invariance: a URL"] == 0.0
    assert rates["tests"]["invariance: upper case"] > 0.5  # "GREAT" is not "great"
    assert rates["tests"]["directional: negation (positive)"] == 0.0  # no move is no failure
    assert rates["tests"]["directional: an appended complaint (neutral)"] == 0.0
    assert set(rates) == {"minimum_functionality", "invariance", "directional", "tests"}


def test_typo_swaps_two_letters_of_the_longest_word() -> None:
    assert typo("The phone is wonderful.") == "The phone is wonedrful."
    assert typo("ok") == "ok"


@pytest.mark.parametrize(("text", "message"), [
    ("slots: {a: [x]}\nminimum_functionality:\n  - {template: 'a {a}', label: happy}\n",
     "checklist.yaml:3: minimum_functionality: unknown label 'happy'"),
    ("minimum_functionality:\n  - {template: 'a', label: positive\n",
     "checklist.yaml:3: malformed YAML"),
    ("invariance:\n  - {name: x}\n", "checklist.yaml:2: invariance: exactly one of"),
    ("invariance:\n\n  - {name: x, transform: shout}\n",
     "checklist.yaml:3: invariance: unknown transform 'shout'"),
    ("minimum_functionality:\n  - {template: 'the {thing}', label: neutral}\n",
     "checklist.yaml:2: minimum_functionality: unknown slot {thing}"),
    ("directional:\n  - {name: n, label: positive, towards: positive, way: sideways, "
     "append: x}\n", "checklist.yaml:2: directional: way must be up or down"),
    ("tests: []\n", "checklist.yaml:1: unknown section 'tests'"),
])
def test_a_malformed_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str,
                                                           message: str) -> None:
    path = tmp_path / "checklist.yaml"
    path.write_text(text)
    with pytest.raises(BehaviourError) as error:
        read_templates(path)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(error.value).startswith(str(path))

