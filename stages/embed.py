"""Stage embed: frozen all-MiniLM-L6-v2 sentence embeddings of every cleaned record, by id.

The encoder learns nothing from the data set, so this runs once before the split and every
family or trial that needs embeddings (``embeddings_mlp``) reads them instead of recomputing;
train never embeds (a missing or stale table is an error there naming this stage). The records
stream in parts of ``compute.embed_rows``, in this process (one forked process per core) or as
tasks on a Ray cluster (``compute.engine``): the bytes depend on the part size alone, never on
the engine or the number of workers. When no family in ``train.families`` needs embeddings,
it writes an empty table at once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sentiment.compute.choose import engine_from_params
from sentiment.compute.engine import ComputeError
from sentiment.families.parts.embedding_table import (
    EmbedPart,
    TableWriter,
    cached_encoder,
    write_table,
)
from sentiment.families.parts.training import resolve_device
from sentiment.io import iter_parquet, parquet_rows
from sentiment.params.compute import ComputeParams
from sentiment.params.families import REGISTRY
from sentiment.params.stage import StageParams
from sentiment.params.train import TrainParams
from sentiment.runtime import StageError, run_stage

log = logging.getLogger("embed")


class EmbedStageParams(StageParams):
    """The sections of params.yaml this stage reads."""

    compute: ComputeParams = ComputeParams()
    train: TrainParams = TrainParams()


def main(params: EmbedStageParams) -> None:
    output = Path(params.paths.embeddings)
    readers = [name for name in params.train.families if REGISTRY[name].reads_embeddings]
    if not readers:
        write_table(output, [], [], np.zeros((0, 0), dtype=np.float32))
        log.info("no family in train.families needs embeddings: wrote an empty %s", output)
        return
    torch.use_deterministic_algorithms(True)
    settings = getattr(params.train, readers[0])  # the encoder of the first that reads them
    device = resolve_device(params.train.device)
    source, part_rows = params.paths.interim, params.compute.embed_rows
    try:
        with engine_from_params(params.compute) as engine:
            # Inference is thread-independent (unlike training): in this process, one forked
            # process per core; on a cluster, one task per core.
            part = EmbedPart(settings.encoder, f"train.{readers[0]}.encoder",
                             settings.max_length, settings.encode_batch_size,
                             "cpu" if engine.remote else device.type,
                             1 if engine.remote else len(os.sched_getaffinity(0)))
            cached_encoder(part.setting, part.key, part.max_length)  # missing weights: here
            log.info("embedding %d texts in parts of %d on %s", parquet_rows(source), part_rows,
                     "a Ray cluster" if engine.remote else device)
            with (TableWriter(output) as writer,
                  tqdm(total=parquet_rows(source), desc="embed", unit="row") as progress):
                parts = iter_parquet(source, part_rows, columns=["id", "text"])
                for table in engine.map_batches(part, parts):
                    writer.write(table)
                    progress.update(table.num_rows)
    except ComputeError as error:
        raise StageError(str(error)) from None
    log.info("wrote %d embeddings to %s", writer.rows, output)


if __name__ == "__main__":
    run_stage("embed", EmbedStageParams, main)
