"""What the service accepts and answers: limits, request and response models, and the one-line
message for each way a request can be wrong."""

# No `from __future__ import annotations`: pydantic's create_model reads the annotations.

import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from sentiment.data.text import NOT_BLANK

ENV_PREFIX = "SENTIMENT_"  # SENTIMENT_MODEL, SENTIMENT_MAX_BATCH_SIZE, ...
EXAMPLE_TEXTS = ["great flight, friendly crew", "lost my bag again"]


ECHOED_CHARS = 40  # characters of a client's field name echoed in a 422


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_batch_size: int = 256
    max_text_chars: int = 5000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    @property
    def max_body_bytes(self) -> int:
        """The largest body a legal request needs: every text at its longest, each character
        JSON-escaped at its widest (an escaped astral character, ``\\ud83d\\ude00``, is 12
        bytes), plus quotes, commas and some room. Larger bodies get 413 before being read."""
        return self.max_batch_size * (self.max_text_chars * 12 + 4) + 4096

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Limits":
        """Defaults overridden by SENTIMENT_MAX_BATCH_SIZE and SENTIMENT_MAX_TEXT_CHARS."""
        values = {}
        for name in ("max_batch_size", "max_text_chars"):
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise ValueError(f"{ENV_PREFIX}{name.upper()} must be an integer, "
                                     f"got {raw!r}") from None
        return cls(**values)


def env_flag(name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """SENTIMENT_<name> as a switch: unset, empty or 0 is off, 1 is on, anything else an error."""
    raw = environ.get(ENV_PREFIX + name, "")
    if raw not in ("", "0", "1"):
        raise ValueError(f"{ENV_PREFIX}{name} must be 0 or 1, got {raw!r}")
    return raw == "1"


class ErrorResponse(BaseModel):
    detail: str = Field(description="what was wrong with the request; names the limit if any")


class Prediction(BaseModel):
    label: str = Field(description="the most probable class")
    probabilities: dict[str, float] = Field(description="probability of each class")


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="one per input text, in input order")
    model_version: str = Field(description="content hash of the model folder (as in dvc.lock)")


class Version(BaseModel):
    md5: str = Field(description="content hash of the model folder, computed as DVC does")
    dvc_lock_md5: str | None = Field(
        description="the hash dvc.lock records for this folder (null if no dvc.lock names it)")
    git_revision: str | None = Field(
        description="HEAD of the git work tree holding the folder (null outside git)")
    matches_lock: bool | None = Field(
        description="whether md5 equals dvc_lock_md5 (null if no dvc.lock names the folder); "
                    "false only when the service was started with --allow-unlocked-model")


class LimitsInfo(BaseModel):
    max_batch_size: int
    max_text_chars: int
    max_body_bytes: int = Field(description="larger request bodies get 413 before being read")


class CostInfo(BaseModel):
    """Measured at start on this machine: what the longest texts cost on the served route."""

    longest_text_ms: float = Field(description="milliseconds per text of max_text_chars")
    largest_request_s: float = Field(
        description="seconds for max_batch_size texts of max_text_chars: the largest request")


class ModelResponse(BaseModel):
    labels: list[str]
    version: Version
    metrics: dict[str, Any] | None = Field(
        description="test-set metrics of the evaluate stage (null if none were found)")
    limits: LimitsInfo
    route: str = Field(description="fast (int8 encoder) or pinned (the same bits on every CPU)")
    cost: CostInfo


class Health(BaseModel):
    status: str = "ok"


def request_model(limits: Limits) -> type[BaseModel]:
    text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars,
                                            pattern=NOT_BLANK)]
    texts = Annotated[list[text], Field(
        min_length=1, max_length=limits.max_batch_size,
        description=f"1 to {limits.max_batch_size} texts (max_batch_size), each 1 to "
                    f"{limits.max_text_chars} characters (max_text_chars), not all whitespace",
    )]
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": EXAMPLE_TEXTS}]})
    return create_model("PredictRequest", __config__=config, texts=(texts, ...))


def describe_errors(errors: list[dict[str, Any]], limits: Limits) -> tuple[int, str]:
    """An HTTP status and a one-line message for pydantic's validation errors."""
    messages = []
    for error in errors:
        kind, loc = error["type"], tuple(error["loc"])
        item = f"texts[{loc[2]}]" if len(loc) == 3 and loc[1] == "texts" else None
        if kind == "json_invalid":
            return 422, f"malformed JSON body: {error.get('ctx', {}).get('error', error['msg'])}"
        if kind == "missing" and loc == ("body",):
            return 422, 'a JSON body {"texts": [...]} is required'
        if kind == "too_long" and loc == ("body", "texts"):
            return 413, (f"{error['ctx']['actual_length']} texts exceed max_batch_size="
                         f"{limits.max_batch_size}; split the batch")
        if kind == "string_too_long" and item:
            messages.append(f"{item} is longer than max_text_chars={limits.max_text_chars}")
        elif kind in ("string_too_short", "string_pattern_mismatch") and item:
            messages.append(f"{item} is empty or whitespace-only")
        else:
            where = ".".join(str(part) for part in loc[1:]) or "body"
            messages.append(f"{shorten(where)}: {shorten(error['msg'], 200)}")
    return 422, "; ".join(messages)


def shorten(text: str, most: int = ECHOED_CHARS) -> str:
    """Input echoed in an answer (a field name, a value), cut to ``most`` characters: an
    unknown 1 MB field name must not make a 1 MB answer."""
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"


def body_error(cause: BaseException | None) -> str:
    """The message for a body FastAPI could not parse as JSON, from the parser's exception."""
    if isinstance(cause, RecursionError):
        return "malformed JSON body: nested too deeply (arrays or objects inside each other)"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return (f"malformed JSON body: a number with more than {sys.get_int_max_str_digits()} "
                "digits")
    if isinstance(cause, UnicodeDecodeError):
        return "malformed JSON body: not UTF-8 encoded JSON"
    return "malformed JSON body: not valid JSON"
