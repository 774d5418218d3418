from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from sentiment.params.base import ParamsError
from sentiment.params.schema import Params, load_params, parse_params
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


def leaf_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted key, annotation) below ``model``, descending into nested sections."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_fields(annotation, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", annotation


def nested(key: str, value: Any) -> dict[str, Any]:
    head, _, rest = key.partition(".")
    return {head: nested(rest, value) if rest else value}


NUMBERS = [key for key, annotation in leaf_fields(Params)
           if annotation in (int, float, int | None, float | None)]
FLOATS = [key for key, annotation in leaf_fields(Params)
          if annotation in (float, float | None)]
INT_LISTS = [key for key, annotation in leaf_fields(Params) if annotation == list[int]]


def test_every_section_has_numbers_to_check() -> None:
    assert {"seed", "train.tfidf_mlp.lr", "train.tfidf.min_df", "train.budget.max_latency_ms",
            "scrape.download_delay"} <= set(NUMBERS)
    assert "train.tfidf_mlp.hidden_sizes" in INT_LISTS


@pytest.mark.parametrize("key", NUMBERS)
@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(key: str, value: bool) -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params(deep_update(default_params(), nested(key, value)))
    assert f"  {key}: expected " in str(caught.value)
    assert "not a boolean" in str(caught.value)


@pytest.mark.parametrize("key", INT_LISTS)
def test_booleans_are_not_list_items(key: str) -> None:
    with pytest.raises(ParamsError, match=rf"{key}: expected list\[int\], not a boolean"):
        parse_params(deep_update(default_params(), nested(key, [8, True])))


@pytest.mark.parametrize("key", FLOATS)
@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN"])
def test_non_finite_floats_are_rejected(key: str, text: str) -> None:
    with pytest.raises(ParamsError) as caught:
        parse_params(deep_update(default_params(), nested(key, yaml.safe_load(text))))
    assert f"  {key}: Input should be a finite number" in str(caught.value)


def test_numbers_still_parse_as_yaml_writes_them(tmp_path: Path) -> None:
    """An int where a float is expected, and 1e-05 (a string to PyYAML, as DVC's -S writes
    small floats), still validate; true stays valid where a boolean is expected."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(deep_update(default_params(), {
        "train": {"tfidf_mlp": {"lr": 1, "class_weighting": False}}})).replace(
            "lr: 1\n", "lr: 1e-05\n"))
    params = load_params(path)
    assert params.train.tfidf_mlp.lr == 1e-05
    assert params.train.tfidf_mlp.class_weighting is False
