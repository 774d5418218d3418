"""Stage embed: frozen all-MiniLM-L6-v2 sentence embeddings of every cleaned record, by id.

The encoder learns nothing from the data set, so this runs once before the split and every
family or trial that needs embeddings (``embeddings_mlp``) reads them instead of recomputing.
When no family in ``train.families`` needs them, it writes an empty table at once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from sentiment.families.parts.embedding_table import encoder_fingerprint, row_keys, write_table
from sentiment.families.parts.encoder import Encoder
from sentiment.families.parts.training import resolve_device
from sentiment.io import read_parquet
from sentiment.params.families import REGISTRY
from sentiment.params.stage import StageParams
from sentiment.params.train import TrainParams
from sentiment.runtime import run_stage

log = logging.getLogger("embed")


class EmbedStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    train: TrainParams = TrainParams()


def main(params: EmbedStageParams) -> None:
    output = Path(params.paths.embeddings)
    readers = [name for name in params.train.families if REGISTRY[name].reads_embeddings]
    if not readers:
        write_table(output, [], [], np.zeros((0, 0), dtype=np.float32))
        log.info("no family in train.families needs embeddings: wrote an empty %s", output)
        return
    # Inference is thread-independent (unlike training): one process per core allowed.
    cores = len(os.sched_getaffinity(0))
    torch.use_deterministic_algorithms(True)
    settings = getattr(params.train, readers[0])  # the encoder of the first that reads them
    encoder = Encoder.from_setting(settings.encoder, f"train.{readers[0]}.encoder",
                                   settings.max_length)
    device = resolve_device(params.train.device)
    frame = read_parquet(params.paths.interim)
    ids, texts = frame["id"].astype(str).tolist(), frame["text"].tolist()
    log.info("embedding %d texts on %s in batches of %d", len(texts), device,
             settings.encode_batch_size)
    vectors = encoder.embed(texts, settings.encode_batch_size, device, workers=cores)
    write_table(output, ids, row_keys(encoder_fingerprint(encoder), texts), vectors)
    log.info("wrote %d embeddings of dimension %d to %s", *vectors.shape, output)


if __name__ == "__main__":
    run_stage("embed", EmbedStageParams, main)
