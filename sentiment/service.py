"""The HTTP service: FastAPI on uvicorn, predicting with the same ``Predictor`` as evaluation.

    GET  /health        liveness
    GET  /v1/model      labels, version (content hash, dvc.lock hash, git revision), test metrics
    POST /v1/predict    {"texts": [...]} → one prediction per text, in order
    GET  /docs          OpenAPI documentation (the spec is at /openapi.json)

The limits on batch size and text length are part of the OpenAPI spec; a request over them
gets 413 (batch) or 422 (text) with a message naming the limit. Any request the spec rejects,
malformed JSON included, gets 422 with a one-line message, never a 500.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which
# refer to request models built inside create_app.

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.exceptions import HTTPException

from sentiment.blank import NOT_BLANK
from sentiment.model_info import describe
from sentiment.predictor import Predictor

log = logging.getLogger(__name__)

ENV_PREFIX = "SENTIMENT_"  # SENTIMENT_MODEL, SENTIMENT_MAX_BATCH_SIZE, ...
EXAMPLE_TEXTS = ["great flight, friendly crew", "lost my bag again"]
# Batches up to this size are predicted on the event loop (about a millisecond): a hop to a
# thread would cost a third of that. Larger ones go, in arrival order, to one prediction thread,
# so the loop stays free and requests do not fight over the GIL (which only stretches the tail).
INLINE_MAX_TEXTS = 8


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_batch_size: int = 256
    max_text_chars: int = 5000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

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


class LimitsInfo(BaseModel):
    max_batch_size: int
    max_text_chars: int


class ModelResponse(BaseModel):
    labels: list[str]
    version: Version
    metrics: dict[str, Any] | None = Field(
        description="test-set metrics of the evaluate stage (null if none were found)")
    limits: LimitsInfo


class Health(BaseModel):
    status: str = "ok"


def _request_model(limits: Limits) -> type[BaseModel]:
    text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_text_chars,
                                            pattern=NOT_BLANK)]
    texts = Annotated[list[text], Field(
        min_length=1, max_length=limits.max_batch_size,
        description=f"1 to {limits.max_batch_size} texts (max_batch_size), each 1 to "
                    f"{limits.max_text_chars} characters (max_text_chars), not all whitespace",
    )]
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": EXAMPLE_TEXTS}]})
    return create_model("PredictRequest", __config__=config, texts=(texts, ...))


def _describe_errors(errors: list[dict[str, Any]], limits: Limits) -> tuple[int, str]:
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
            messages.append(f"{where}: {error['msg']}")
    return 422, "; ".join(messages)


def create_app(model_dir: str | Path, limits: Limits | None = None,
               lock: str | Path | None = None, metrics: str | Path | None = None) -> FastAPI:
    """The service for one model folder; raises ``ModelLoadError`` naming a bad model file,
    ``FileNotFoundError`` for a named ``lock`` or ``metrics`` file that is missing.

    Sets torch to one thread per forward pass: requests already run concurrently, and for
    batches this small, intra-op threads only contend (stalls of tens of ms on a busy CPU).
    """
    limits = limits or Limits.from_env()
    torch.set_num_threads(1)
    predictor = Predictor.load(model_dir)
    version, test_metrics = describe(model_dir, lock, metrics)
    log.info("model %s (%s), labels %s, %s", model_dir, version.md5, predictor.labels, limits)
    model_response = ModelResponse(labels=predictor.labels, version=Version(**version.to_dict()),
                                   metrics=test_metrics, limits=LimitsInfo(**asdict(limits)))
    predict_request = _request_model(limits)
    executor = ThreadPoolExecutor(1, thread_name_prefix="predict")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(cancel_futures=True)

    app = FastAPI(
        title="sentiment",
        summary="Sentiment (negative / neutral / positive) of short English texts.",
        version=version.md5,
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = _describe_errors(list(exc.errors()), limits)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's answer to a body that is not even UTF-8 text
            return JSONResponse({"detail": "malformed JSON body: not UTF-8 encoded JSON"},
                                status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.get("/health", response_model=Health, summary="Liveness")
    async def health() -> Health:
        return Health()

    @app.get("/v1/model", response_model=ModelResponse, summary="The model being served")
    async def model() -> ModelResponse:
        return model_response

    @app.post(
        "/v1/predict", response_model=PredictResponse, summary="Predict the sentiment of texts",
        responses={413: {"model": ErrorResponse, "description": "more than max_batch_size texts"},
                   422: {"model": ErrorResponse,
                         "description": "malformed JSON, an empty or whitespace-only text, a "
                                        "text over max_text_chars, or another invalid field"}},
    )
    async def predict(request: predict_request) -> PredictResponse:  # type: ignore[valid-type]
        texts = request.texts
        if len(texts) <= INLINE_MAX_TEXTS:
            predictions = predictor.predict(texts)
        else:
            loop = asyncio.get_running_loop()
            predictions = await loop.run_in_executor(executor, predictor.predict, texts)
        return PredictResponse(predictions=predictions, model_version=version.md5)

    return app


def app_from_env() -> FastAPI:
    """The app configured by SENTIMENT_MODEL, SENTIMENT_LOCK, SENTIMENT_METRICS and the
    SENTIMENT_MAX_* limits (``uvicorn --factory sentiment.service:app_from_env``)."""
    environ = os.environ
    return create_app(environ.get(ENV_PREFIX + "MODEL", "models/sentiment"), Limits.from_env(),
                      environ.get(ENV_PREFIX + "LOCK") or None,
                      environ.get(ENV_PREFIX + "METRICS") or None)
