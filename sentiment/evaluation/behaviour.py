"""Behavioural tests (CheckList, Ribeiro et al., ACL 2020) from a versioned template file.

Minimum functionality: templated sentences with an unambiguous label. Invariance: edits of
those sentences (a name, a URL, casing, a typo, ...) that must not change the predicted label.
Directional: edits that must move one class's probability a given way (negation, an
intensifier, an appended complaint). The file's format is described at its top
(``data/behaviour/checklist.yaml``); a mistake in it is one line naming the file and line.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sentiment.params.base import LABELS

TYPES = ("minimum_functionality", "invariance", "directional")
SLOT = re.compile(r"\{(\w+)\}")
LINE = "__line__"  # where a mapping starts in the file (added by the loader)
EDITS = ("prepend", "append", "replace", "transform")


class BehaviourError(ValueError):
    """The template file is unreadable or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    """One test case: the text predicted, and what it is checked against."""

    kind: str  # one of TYPES
    test: str  # the test's name, e.g. "invariance: a URL"
    text: str
    label: str = ""  # minimum functionality: the expected label
    original: str = ""  # invariance / directional: the unedited sentence
    towards: str = ""  # directional: the class whose probability must move ...
    way: str = ""  # ... up or down


def typo(text: str) -> str:
    """Swap the two middle letters of the longest word (of at least four letters)."""
    words = re.findall(r"[A-Za-z]{4,}", text)
    if not words:
        return text
    word = max(words, key=len)
    middle = len(word) // 2
    swapped = word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1:]
    return text.replace(word, swapped, 1)


TRANSFORMS: dict[str, Callable[[str], str]] = {"upper": str.upper, "lower": str.lower,
                                               "typo": typo}


class _LineLoader(yaml.SafeLoader):
    """YAML's safe loader that records where each mapping starts."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=True)
        mapping[LINE] = node.start_mark.line + 1
        return mapping


def _fail(path: Path, line: int, message: str) -> BehaviourError:
    return BehaviourError(f"{path}:{line}: {message}")


def read_templates(path: Path) -> dict[str, Any]:
    """The template file, parsed and checked (every mistake names the file and line)."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except OSError as error:
        raise BehaviourError(f"{path}: cannot read the behavioural templates: "
                             f"{error.strerror}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise _fail(path, mark.line + 1 if mark else 1,
                    f"malformed YAML: {error.problem or error.context}") from None
    if not isinstance(document, dict):
        raise _fail(path, 1, f"expected a mapping with {', '.join(('slots', *TYPES))}")
    for key in document:
        if key not in ("slots", *TYPES, LINE):
            raise _fail(path, document[LINE], f"unknown section {key!r}")
    slots = document.get("slots", {})
    if not isinstance(slots, dict) or not all(
            isinstance(words, list) and words and all(isinstance(w, str) for w in words)
            for name, words in slots.items() if name != LINE):
        raise _fail(path, slots.get(LINE, 1) if isinstance(slots, dict) else 1,
                    "slots: each slot is a non-empty list of strings")
    for kind in TYPES:
        entries = document.get(kind, [])
        if not isinstance(entries, list):
            raise _fail(path, document[LINE], f"{kind}: expected a list")
        for entry in entries:
            _check_entry(path, kind, entry, slots)
    return document


def _check_entry(path: Path, kind: str, entry: Any, slots: dict[str, Any]) -> None:
    if not isinstance(entry, dict):
        raise _fail(path, 1, f"{kind}: an entry that is not a mapping: {entry!r}")
    line = entry[LINE]
    required = {"minimum_functionality": ("template", "label"), "invariance": ("name",),
                "directional": ("name", "label", "towards", "way")}[kind]
    allowed = {*required, LINE, *(EDITS if kind != "minimum_functionality" else ())}
    for key in entry:
        if key not in allowed:
            raise _fail(path, line, f"{kind}: unknown key {key!r}")
    for key in required:
        if key not in entry:
            raise _fail(path, line, f"{kind}: missing {key!r}")
    for key in ("label", "towards"):
        if key in entry and entry[key] not in LABELS:
            raise _fail(path, line, f"{kind}: unknown label {entry[key]!r} (one of "
                                    f"{', '.join(LABELS)})")
    if kind != "minimum_functionality":
        edits = [key for key in EDITS if key in entry]
        if len(edits) != 1:
            raise _fail(path, line, f"{kind}: exactly one of {', '.join(EDITS)}")
        if "transform" in entry and entry["transform"] not in TRANSFORMS:
            raise _fail(path, line, f"{kind}: unknown transform {entry['transform']!r} (one of "
                                    f"{', '.join(TRANSFORMS)})")
        if "replace" in entry and not (isinstance(entry["replace"], list)
                                       and len(entry["replace"]) == 2):
            raise _fail(path, line, f"{kind}: replace takes [old, new]")
    if kind == "directional" and entry["way"] not in ("up", "down"):
        raise _fail(path, line, f"directional: way must be up or down, got {entry['way']!r}")
    texts = [value for key, value in entry.items()
             if key in ("template", "prepend", "append") and isinstance(value, str)]
    for text in texts:
        for slot in SLOT.findall(text):
            if slot not in slots:
                raise _fail(path, line, f"{kind}: unknown slot {{{slot}}}")


def _fill(template: str, slots: dict[str, list[str]]) -> list[str]:
    """Every combination of the template's slots, in the order the file lists the words."""
    names = list(dict.fromkeys(SLOT.findall(template)))
    return [string.Formatter().vformat(template, (), dict(zip(names, words, strict=True)))
            for words in itertools.product(*(slots[name] for name in names))]


def _edit(text: str, entry: dict[str, Any], slots: dict[str, list[str]], index: int) -> str:
    """One edit of ``text``; an edit's own slots take their words in turn (by ``index``)."""
    def filled(part: str) -> str:
        return SLOT.sub(lambda match: slots[match[1]][index % len(slots[match[1]])], part)

    if "prepend" in entry:
        return filled(entry["prepend"]) + text
    if "append" in entry:
        return text + filled(entry["append"])
    if "replace" in entry:
        old, new = entry["replace"]
        return text.replace(old, new, 1)
    return TRANSFORMS[entry["transform"]](text)


def build_cases(document: dict[str, Any]) -> list[Case]:
    """Every test case the file describes, in the file's order."""
    slots = {name: words for name, words in document.get("slots", {}).items() if name != LINE}
    base = [(sentence, entry["label"]) for entry in document.get("minimum_functionality", [])
            for sentence in _fill(entry["template"], slots)]
    cases = [Case("minimum_functionality", f"minimum functionality: {label}", text, label=label)
             for text, label in base]
    for entry in document.get("invariance", []):
        for index, (text, _) in enumerate(base):
            edited = _edit(text, entry, slots, index)
            if edited != text:
                cases.append(Case("invariance", f"invariance: {entry['name']}", edited,
                                  original=text))
    for entry in document.get("directional", []):
        for index, (text, label) in enumerate(base):
            edited = _edit(text, entry, slots, index)
            if label == entry["label"] and edited != text:
                cases.append(Case("directional", f"directional: {entry['name']} "
                                  f"({entry['label']})", edited, original=text,
                                  towards=entry["towards"], way=entry["way"]))
    return cases


def failed(case: Case, probabilities: dict[str, np.ndarray]) -> bool:
    """Whether the model's probabilities fail ``case`` (texts map to their probabilities)."""
    own = probabilities[case.text]
    if case.kind == "minimum_functionality":
        return LABELS[int(own.argmax())] != case.label
    before = probabilities[case.original]
    if case.kind == "invariance":
        return int(own.argmax()) != int(before.argmax())
    index = LABELS.index(case.towards)
    moved = float(own[index]) - float(before[index])
    return moved < 0 if case.way == "up" else moved > 0


def failure_rates(cases: Sequence[Case], predict: Callable[[list[str]], np.ndarray]
                  ) -> dict[str, object]:
    """Failure rate per test type and per test for one model (``predict``: texts to
    probabilities in ``LABELS`` order)."""
    texts = sorted({text for case in cases for text in (case.text, case.original) if text})
    probabilities = dict(zip(texts, predict(texts), strict=True))
    outcome: dict[str, list[bool]] = {}
    for case in cases:
        failure = failed(case, probabilities)
        outcome.setdefault(case.kind, []).append(failure)
        outcome.setdefault(case.test, []).append(failure)

    def rate(name: str) -> float:
        return round(float(np.mean(outcome[name])), 4)

    return {**{kind: rate(kind) for kind in TYPES if kind in outcome},
            "tests": {name: rate(name) for name in outcome if name not in TYPES}}


def case_counts(cases: Sequence[Case]) -> dict[str, int]:
    return {kind: sum(case.kind == kind for case in cases) for kind in TYPES}
