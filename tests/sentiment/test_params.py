from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentiment.params import ParamsError, load_params, parse_params
from tests.conftest import REPO_ROOT, deep_update


def default_params() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_repository_params_are_valid() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.train.tfidf_mlp.hidden_sizes == [256, 128, 64]
    assert abs(sum(params.split.fractions.model_dump().values()) - 1) < 1e-9


@pytest.mark.parametrize("changes, key, words", [
    ({"train": {"lrr": 0.1}}, "train.lrr", "unknown key"),
    ({"train": {"tfidf_mlp": {"dropout": 1.5}}}, "train.tfidf_mlp.dropout", "less than 1"),
    ({"train": {"families": []}}, "train.families", "at least 1"),
    ({"train": {"families": ["bert"]}}, "train.families.0", "tfidf_linear"),
    ({"train": {"families": ["tfidf_linear", "ensemble"]}}, "train", "ensemble.members"),
    ({"train": {"budget": {"min_texts_per_s": -1}}}, "train.budget.min_texts_per_s", "greater"),
    ({"train": {"device": "tpu"}}, "train.device", "auto"),
    ({"split": {"fractions": {"train": 0.5, "val": 0.1, "test": 0.1}}}, "split.fractions",
     "sum to 1"),
    ({"scrape": {"concurrency": 0}}, "scrape.concurrency", "greater than or equal to 1"),
    ({"clean": {"min_chars": 50, "max_chars": 10}}, "clean", "min_chars"),
    ({"sede": 1}, "sede", "unknown key"),
])
def test_invalid_values_name_the_key(changes: dict, key: str, words: str) -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params(deep_update(default_params(), changes))
    message = str(caught.value)
    assert key in message
    assert words in message


def test_web_source_needs_start_urls() -> None:
    with pytest.raises(ParamsError, match="start_urls"):
        parse_params(deep_update(default_params(), {"scrape": {"source": "web"}}))


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "params.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(ParamsError, match="mapping"):
        load_params(listing)
