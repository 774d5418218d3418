"""What one pipeline stage reads of ``params.yaml``: the seed, the paths and its own sections.

A stage validates only those sections, each with its own schema, so editing another section's
schema reruns nothing; the ``params`` stage validates the whole file before any stage runs.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sentiment.params.paths import PathsParams


class StageParams(BaseModel):
    """The base of a stage's params: sections it does not declare are ignored here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    seed: int = Field(ge=0)
    paths: PathsParams = PathsParams()
