"""Expand a search in DVC's sweep syntax into one GitHub Actions matrix entry per experiment.

Each argument (each line, or JSON list item, of ``--from-file``) is one ``dvc exp run -S`` value,
e.g. ``train.tfidf_linear.c=choice(1,4)``, ``train.tfidf_mlp.lr=0.001,0.0003`` or
``train.transformer.epochs=range(2,5)``; the grid is their product, expanded by DVC's own code
(``dvc exp run --queue`` expands it the same way). Every experiment's params are applied to a
copy of ``params.yaml`` and validated by the project's schema, so a typo fails here, once, rather
than in every job. The runner is chosen per experiment: GPU labels when its ``train.families``
holds a family that needs one (``transformer``), the CPU labels otherwise.

Usage::

    python -m scripts.exp_grid [--prefix grid] [--from-file FILE|-]... [OVERRIDE ...]

prints ``{"include": [{"name", "params", "gpu", "runs_on"}, ...]}`` (``params``: the experiment's
``-S`` values, one a line), or with ``--commands`` one ``scripts/exp_worker.sh`` line per
experiment, for machines run by hand. Bad syntax, an invalid param or an empty grid: one
``error:`` line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from sentiment.params.base import ParamsError
from sentiment.params.schema import parse_params

PARAMS_FILE = "params.yaml"
GPU_FAMILIES = frozenset({"transformer"})
MAX_JOBS = 256  # GitHub Actions' limit on the jobs of one matrix
NAME_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}")


class GridError(ValueError):
    """The grid cannot be expanded; the message is one line naming the culprit."""


def one_line(error: object) -> str:
    """A possibly multi-line message on one line: "a:\n  b\n  c" becomes "a: b; c"."""
    text = re.sub(r":[ \t]*\n\s*", ": ", str(error).strip())
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def read_overrides(text: str) -> list[str]:
    """A JSON list of ``-S`` values, or one a line (blank lines and ``#`` comments skipped)."""
    if text.lstrip().startswith("["):  # no override starts with "[": a key comes first
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise GridError(f"not a JSON list of strings: {error}") from None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise GridError(f"not a JSON list of strings: {text.strip()!r}")
        return [value.strip() for value in values if value.strip()]
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def expand(overrides: list[str]) -> list[list[str]]:
    """The product of the sweeps, as DVC's ``exp run --queue`` expands it: one list per run."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps, to_hydra_overrides
    from hydra.errors import OverrideParseException

    if not overrides:
        raise GridError("no parameters given: pass at least one -S value, e.g. "
                        "'train.tfidf_linear.c=choice(1,4)'")
    keys: dict[str, str] = {}
    for override in overrides:
        path = to_path_overrides([override])
        if list(path) != [PARAMS_FILE]:
            raise GridError(f"{override!r}: only {PARAMS_FILE} params can be set")
        try:
            [parsed] = to_hydra_overrides(path[PARAMS_FILE])
        except OverrideParseException as error:
            raise GridError(f"{override!r}: {one_line(error)}") from None
        key = parsed.get_key_element()
        if key in keys:
            raise GridError(f"{key} is set twice ({keys[key]!r} and {override!r})")
        keys[key] = override
    try:
        sweeps = get_hydra_sweeps({PARAMS_FILE: overrides})
    except (OverrideParseException, InvalidArgumentError) as error:
        raise GridError(one_line(error)) from None
    return [sweep[PARAMS_FILE] for sweep in sweeps]


def effective_families(params_file: Path, overrides: list[str]) -> list[str]:
    """Apply ``overrides`` to a copy of ``params_file`` as ``dvc exp run -S`` would; validate it
    with the project's schema; return its ``train.families``."""
    from dvc.exceptions import InvalidArgumentError
    from dvc.utils.hydra import apply_overrides

    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copy(params_file, Path(folder) / PARAMS_FILE))
        try:
            apply_overrides(str(copy), overrides)
        except InvalidArgumentError as error:
            cause = one_line(error.__cause__ or error)
            raise GridError(f"{' '.join(overrides)}: {cause}") from None
        try:
            params = parse_params(yaml.safe_load(copy.read_text(encoding="utf-8")), PARAMS_FILE)
        except ParamsError as error:
            raise GridError(f"{' '.join(overrides)}: {one_line(error)}") from None
    return list(params.train.families)


def labels(text: str) -> list[str]:
    """Runner labels from a comma-separated list (``self-hosted,gpu``)."""
    found = [label.strip() for label in text.split(",") if label.strip()]
    if not found:
        raise GridError(f"no runner label in {text!r}")
    return found


def matrix(overrides: list[str], prefix: str, params_file: Path, cpu_runner: list[str],
           gpu_runner: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The ``strategy.matrix`` of the worker jobs: one entry per experiment of the grid."""
    if not NAME_PREFIX.fullmatch(prefix):
        raise GridError(f"prefix {prefix!r}: use letters, digits, '-' and '_' (at most 41), "
                        "starting with a letter or digit")
    runs = expand(overrides)
    if len(runs) > MAX_JOBS:
        raise GridError(f"{len(runs)} experiments: a matrix holds at most {MAX_JOBS}; "
                        "split the search")
    width = len(str(len(runs)))
    entries = []
    for index, run in enumerate(runs, start=1):
        gpu = bool(GPU_FAMILIES & set(effective_families(params_file, run)))
        entries.append({"name": f"{prefix}-{index:0{width}d}", "params": "\n".join(run),
                        "gpu": gpu, "runs_on": gpu_runner if gpu else cpu_runner})
    return {"include": entries}


def worker_commands(entries: list[dict[str, Any]]) -> list[str]:
    """One ``scripts/exp_worker.sh`` command line per experiment, quoted for a POSIX shell."""
    return [shlex.join(["scripts/exp_worker.sh", entry["name"], *entry["params"].splitlines()])
            + f"  # {'GPU' if entry['gpu'] else 'CPU'}" for entry in entries]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="a `dvc exp run -S` value, sweeps allowed")
    parser.add_argument("--from-file", type=argparse.FileType("r"), metavar="FILE",
                        action="append", default=[],
                        help="more overrides: one a line, or a JSON list ('-' for stdin); "
                             "may be repeated")
    parser.add_argument("--prefix", default="grid", help="experiment names: PREFIX-1, PREFIX-2...")
    parser.add_argument("--params", type=Path, default=Path(PARAMS_FILE),
                        help="the params file the overrides apply to")
    parser.add_argument("--cpu-runner", default="ubuntu-latest", help="comma-separated labels")
    parser.add_argument("--gpu-runner", default="self-hosted,gpu", help="comma-separated labels")
    parser.add_argument("--commands", action="store_true",
                        help="print a scripts/exp_worker.sh command per experiment instead")
    args = parser.parse_args(argv)
    try:
        overrides = list(args.overrides)
        for file in args.from_file:
            overrides += read_overrides(file.read())
        result = matrix(overrides, args.prefix, args.params, labels(args.cpu_runner),
                        labels(args.gpu_runner))
    except GridError as error:
        sys.exit(f"error: {error}")
    if args.commands:
        print("\n".join(worker_commands(result["include"])))
    else:
        print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
