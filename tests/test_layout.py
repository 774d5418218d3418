"""The house's rules of import: layers point down, no cycles, thin stages, scripts on the library.

Every import of ``sentiment/``, ``stages/`` and ``scripts/`` counts, including those inside
functions and under ``TYPE_CHECKING`` (an import that only a type checker runs still ties the
two modules together).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import yaml

from sentiment.params.families import REGISTRY
from tests.conftest import REPO_ROOT

#: Bottom to top: a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("sentiment", "sentiment.errors", "sentiment.io", "sentiment.kernels"),
    ("sentiment.params",),
    ("sentiment.runtime", "sentiment.compute"),
    ("sentiment.data", "sentiment.crawl"),
    ("sentiment.families",),
    ("sentiment.model",),
    ("sentiment.evaluation",),
    ("sentiment.monitoring",),
    ("sentiment.serving",),
    ("sentiment.commands", "sentiment.cli"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(*packages: str) -> list[Path]:
    return sorted(path for package in packages for path in (REPO_ROOT / package).rglob("*.py"))


@cache
def imports_of(path: Path) -> frozenset[str]:
    """Every module of ours that ``path`` imports (``from a import b`` counts ``a.b`` when
    ``a.b`` is a module, else ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if is_module(candidate) else node.module)
    return frozenset(name for name in found
                     if name.partition(".")[0] in ("sentiment", "stages", "scripts"))


def is_module(name: str) -> bool:
    base = REPO_ROOT / name.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def layer(module: str) -> int:
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    assert best is not None, f"{module}: in no layer of tests/test_layout.py"
    return best[0]


def test_library_imports_point_down() -> None:
    upward = [f"{module_name(path)} (layer {layer(module_name(path))}) imports {target} "
              f"(layer {layer(target)})"
              for path in source_files("sentiment") for target in imports_of(path)
              if target.startswith("stages") or target.startswith("scripts")
              or layer(target) > layer(module_name(path))]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = {module_name(path): {t for t in imports_of(path) if t.startswith("sentiment")}
             for path in source_files("sentiment")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            # a package's __init__ importing nothing of its children is not a cycle with them
            if state.get(target) == 1 and not node.startswith(target + "."):
                cycles.append([*trail[trail.index(target):], target] if target in trail
                              else [node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_stages_import_no_stage_and_scripts_no_stage_code() -> None:
    wrong = [f"{module_name(path)} imports {target}"
             for path in source_files("stages", "scripts") for target in imports_of(path)
             if target.startswith("stages.")]
    assert not wrong, "\n".join(wrong)


def test_no_module_defines_a_name_twice_across_the_library() -> None:
    """Functions and classes are defined once (a private helper may share a name)."""
    seen: dict[str, str] = {}
    twice = []
    for path in source_files("sentiment"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_") \
                    and node.name not in ("main", "register", "run"):
                where = module_name(path)
                if node.name in seen:
                    twice.append(f"{node.name}: {seen[node.name]} and {where}")
                seen.setdefault(node.name, where)
    assert not twice, "\n".join(twice)


def test_embed_stage_params_cover_every_family_that_reads_embeddings() -> None:
    embed = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["embed"]
    for name, spec in REGISTRY.items():
        if spec.reads_embeddings:
            for key in ("encoder", "max_length", "encode_batch_size"):
                assert f"train.{name}.{key}" in embed["params"], (name, key)
