"""End to end on the second test site: `dvc repro` crawls the shop (listing -> product ->
reviews), labels its reviews from their star ratings and trains a model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.conftest import copy_project, run
from tests.stages.scrape.shop_site import serve_shop, shop_scrape_params

pytestmark = pytest.mark.slow

#: The train.* overrides of this test, on top of tests/conftest.py's SMALL_PARAMS: the crawl
#: and the rating labels are what it checks, so one fast family (no embedding, no int8 export;
#: the families themselves are covered by the built project's tests).
SHOP_TRAIN: dict[str, Any] = {"families": ["tfidf_linear"]}


def test_repro_on_the_shop_site_yields_a_model(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project",
                           {"clean": {"preset": "reviews"}, "train": SHOP_TRAIN})
    with serve_shop() as site:
        params_file = project / "params.yaml"
        params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
        params["scrape"] = {**params["scrape"], **shop_scrape_params(site.origin)}
        params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        run(["dvc", "repro"], project)
    for name in ("config.json", "manifest.json"):
        assert (project / "models/sentiment" / name).stat().st_size > 0
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert sorted(lock["stages"]) == ["clean", "embed", "evaluate", "featurize", "params",
                                      "release", "scrape", "split", "train"]
    scrape = json.loads((project / "reports/scrape.json").read_text())
    assert scrape["records_kept"] == len(site.shop.all_reviews)
    clean = json.loads((project / "reports/clean.json").read_text())
    assert clean["settings"]["label_source"] == "rating"
    assert all(count > 0 for count in clean["class_balance"].values())
    interim = pd.read_parquet(project / "data/interim/clean.parquet")
    assert {"author", "date", "title", "product", "rating", "helpful"} <= set(interim.columns)
    assert len(interim) == clean["rows_out"] > 0
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert 0.0 <= metrics["test"]["macro_f1"] <= 1.0
