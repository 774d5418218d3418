"""The served (fast, int8) route against the pinned route on a real `dvc repro`: the evaluate
stage scores both, the served scores stay within the tolerance, and they stay out of dvc.lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment.evaluation.metrics import MAX_MACRO_F1_DIFFERENCE, MIN_LABEL_AGREEMENT
from tests.conftest import run

pytestmark = pytest.mark.slow
MEASURED_LABEL_AGREEMENT = 0.97


def test_the_served_route_is_within_tolerance_of_the_pinned_route(built_project: Path
                                                                   ) -> None:
    served = json.loads((built_project / "reports/served.json").read_text())
    metrics = json.loads((built_project / "reports/metrics.json").read_text())
    champion = json.loads((built_project / "reports/train/metrics.json").read_text())["champion"]
    assert served["pinned_macro_f1"] == metrics["families"][champion]["test"]["macro_f1"]
    assert set(served["families"]) == set(metrics["families"])
    for name, comparison in {"champion": served, **served["families"]}.items():
        # The bar is MIN_LABEL_AGREEMENT (99.5 %), met on the default test split
        # (99.65 % for the champion; docs/serving.md); on the small configuration's ~130 test
        # rows one flipped label costs 0.8 %, so this holds it to a floor, and
        # within_tolerance reports the bar honestly.
        assert comparison["label_agreement"] >= MEASURED_LABEL_AGREEMENT, (name, comparison)
        # On the small configuration's ~130 test rows one flipped label moves macro-F1 by
        # about 0.009, so the 0.002 bar is measured on the default split (docs), and here
        # the difference is held to what the flipped rows can explain.
        flipped = 1 - comparison["label_agreement"]
        assert abs(comparison["macro_f1_difference"]) <= 3 * flipped + 1e-6, name
        assert comparison["within_tolerance"] is (
            comparison["label_agreement"] >= MIN_LABEL_AGREEMENT
            and abs(comparison["macro_f1_difference"]) <= MAX_MACRO_F1_DIFFERENCE)
    # other arithmetic: the encoder families' probabilities differ, TF-IDF's do not
    assert served["families"]["embeddings_mlp"]["max_probability_difference"] > 0
    assert served["families"]["tfidf_linear"]["max_probability_difference"] == 0
    assert "served.json" not in (built_project / "dvc.lock").read_text()


def test_predict_serves_the_fast_route_and_pins_on_request(built_project: Path) -> None:
    texts = ["what a wonderful day", "this is the worst service ever", "the bus leaves at 5"]
    found = {route: [json.loads(line) for line in run(
        ["sentiment", "predict", "--model", "models/candidates/embeddings_mlp", "--route",
         route, "--workers", "1", *texts],
        built_project).stdout.splitlines()] for route in ("fast", "pinned")}
    assert [row["label"] for row in found["fast"]] == [row["label"] for row in found["pinned"]]
    assert found["fast"] != found["pinned"]  # other bits: the int8 encoder served
    refused = run(["sentiment", "predict", "--route", "gpu", "hi"], built_project, check=False)
    assert refused.returncode == 2 and "invalid choice: 'gpu'" in refused.stderr
