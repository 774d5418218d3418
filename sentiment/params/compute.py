"""Section ``compute``: where batches of work run (never what they compute)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sentiment.params.base import Strict


class ComputeParams(Strict):
    """Where featurize, embed and scoring run (``sentiment.compute``); never what they compute.

    ``engine: ray`` submits their batches to the Ray cluster at ``RAY_ADDRESS`` (the
    environment wins) or ``address``. Both engines write byte-identical outputs, so no stage
    lists this section as a DVC param: switching engine or cluster reruns nothing.
    """

    engine: Literal["inprocess", "ray"] = "inprocess"
    address: str | None = Field(default=None, min_length=1)
    batch_rows: int = Field(default=5000, ge=1)  # featurize rows per task
    # embed rows per task: a part is length-sorted and padded as one, so its size (never the
    # number of workers) is in the embeddings' bits, and the embed stage lists it as a param.
    embed_rows: int = Field(default=50_000, ge=1)
    max_in_flight: int = Field(default=8, ge=1)  # batches submitted and not yet collected
