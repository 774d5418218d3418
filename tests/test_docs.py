"""The docs stay true to the code: every params example in the README and docs/ validates
against the schema when laid over params.yaml, and every relative link names a file."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from sentiment.params.schema import parse_params
from tests.conftest import REPO_PARAMS, REPO_ROOT, deep_update

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def params_examples() -> list[tuple[str, str]]:
    """(page: block number, text) of each yaml block whose top-level keys are params sections."""
    found = []
    for page in PAGES:
        for number, match in enumerate(YAML_BLOCK.finditer(page.read_text(encoding="utf-8"))):
            block = yaml.safe_load(match.group(1))
            if isinstance(block, dict) and set(block) <= set(REPO_PARAMS):
                found.append((f"{page.relative_to(REPO_ROOT)}: yaml block {number + 1}",
                              match.group(1)))
    return found


EXAMPLES = params_examples()


def test_the_readme_has_a_params_example() -> None:
    assert any(where.startswith("README.md") for where, _ in EXAMPLES)


@pytest.mark.parametrize(("where", "text"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_params_example_is_valid(where: str, text: str) -> None:
    parse_params(deep_update(copy.deepcopy(REPO_PARAMS), yaml.safe_load(text)), where)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_name_existing_files(page: Path) -> None:
    links = LINK.findall(page.read_text(encoding="utf-8"))
    missing = [link for link in links if "://" not in link and not link.startswith("mailto:")
               and not (page.parent / link).exists()]
    assert not missing, f"{page.name}: links to missing files {missing}"
