"""The HTTP service: FastAPI on uvicorn, predicting with the same ``Predictor`` as evaluation.

    GET  /              a web page to try the model (assets served from this package)
    GET  /health        liveness
    GET  /metrics       Prometheus metrics (text format)
    GET  /v1/model      labels, version (content hash, dvc.lock hash, git revision), test metrics
    POST /v1/predict    {"texts": [...]} → one prediction per text, in order
    GET  /docs          OpenAPI documentation (the spec is at /openapi.json)

The limits on batch size and text length are part of the OpenAPI spec; a request over them
gets 413 (batch) or 422 (text) with a message naming the limit. Any request the spec rejects,
malformed JSON included, gets 422 with a one-line message, never a 500. With API keys, predict
answers 401 to a request without a valid key (see ``sentiment.serving.auth``).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which
# refer to request models built inside create_app.

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from sentiment.model.predictor import Predictor
from sentiment.model.routes import Route
from sentiment.model.version import describe, verify_folder
from sentiment.serving.auth import KeyStore, keys_file_from_env
from sentiment.serving.cost import measure_cost
from sentiment.serving.metrics import CONTENT_TYPE, Metrics
from sentiment.serving.middleware import (
    KEY_HEADER,
    TEXTS_SCOPE_KEY,
    BodyTooLarge,
    Observer,
    log_settings,
)
from sentiment.serving.schemas import (
    ENV_PREFIX,
    ErrorResponse,
    Health,
    Limits,
    LimitsInfo,
    ModelResponse,
    PredictResponse,
    Version,
    body_error,
    describe_errors,
    env_flag,
    request_model,
)

log = logging.getLogger(__name__)

# Batches up to this size are predicted on the event loop (about a millisecond): a hop to a
# thread would cost a third of that. Larger ones go, in arrival order, to one prediction thread,
# so the loop stays free and requests do not fight over the GIL (which only stretches the tail).
INLINE_MAX_TEXTS = 8
PREDICT = "/v1/predict"
STATIC = Path(__file__).parent / "static"
# The page: path → (file, media type). Read once at start; about 10 KB in all.
PAGE = {"/": ("index.html", "text/html; charset=utf-8"),
        "/app.js": ("app.js", "text/javascript; charset=utf-8"),
        "/app.css": ("app.css", "text/css; charset=utf-8")}
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
               "swagger-ui.css": "text/css; charset=utf-8", "favicon.png": "image/png"}


def _asset(name: str, media_type: str) -> Callable[[], Awaitable[Response]]:
    """An endpoint answering one file of the page, read once, taking no parameter."""
    content = (STATIC / name).read_bytes()

    async def asset() -> Response:
        return Response(content, media_type=media_type, headers={"cache-control": "no-cache"})

    return asset


def _add_page(app: FastAPI) -> None:
    for path, (name, media_type) in PAGE.items():
        app.add_api_route(path, _asset(name, media_type), methods=["GET"],
                          include_in_schema=False)


def _add_docs(app: FastAPI) -> None:
    """/docs from Swagger UI files shipped in the ``fastapi-offline`` wheel, not a CDN: it works
    offline and pulls no third-party code into the page."""
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html

    files = Path(fastapi_offline.__file__).parent / "static"
    assets = {name: (files / name).read_bytes() for name in DOCS_ASSETS}

    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="sentiment - docs",
            swagger_js_url="/docs/swagger-ui-bundle.js", swagger_css_url="/docs/swagger-ui.css",
            swagger_favicon_url="/docs/favicon.png")

    def asset(name: str) -> Callable[[], Awaitable[Response]]:
        async def serve() -> Response:
            return Response(assets[name], media_type=DOCS_ASSETS[name],
                            headers={"cache-control": "max-age=86400"})
        return serve

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    for name in DOCS_ASSETS:
        app.add_api_route(f"/docs/{name}", asset(name), methods=["GET"],
                          include_in_schema=False)


def _document_key(app: FastAPI) -> None:
    """Declare the API key header in the OpenAPI spec, as required by predict."""
    spec = app.openapi()
    spec["components"]["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": KEY_HEADER}}
    spec["paths"][PREDICT]["post"]["security"] = [{"ApiKey": []}]


def create_app(model_dir: str | Path, limits: Limits | None = None,
               lock: str | Path | None = None, metrics: str | Path | None = None, *,
               api_keys: str | Path | None = None, log_requests: bool = False,
               allow_unlocked_model: bool = False, route: Route = "fast") -> FastAPI:
    """The service for one model folder; raises ``ModelLoadError`` naming a bad model file,
    ``FileNotFoundError`` for a named ``lock`` or ``metrics`` file that is missing,
    ``KeyFileError`` for a missing or malformed ``api_keys`` file.

    ``api_keys``: a key file (``sentiment.serving.auth``); without it the service is open.
    ``log_requests``: write a JSON access-log line per request to standard output.
    ``allow_unlocked_model``: serve a folder whose bytes differ from what ``dvc.lock`` records
    (with a warning) instead of refusing it with ``ModelLoadError``.
    ``route``: ``fast`` (the int8 encoder) or ``pinned`` (``sentiment.model.routes``).

    Sets torch to one thread per forward pass: requests already run concurrently, and for
    batches this small, intra-op threads only contend (stalls of tens of ms on a busy CPU).
    """
    limits = limits or Limits.from_env()
    keys = KeyStore(api_keys) if api_keys else None
    torch.set_num_threads(1)
    predictor = Predictor.load(model_dir, route=route)
    version, test_metrics = describe(model_dir, lock, metrics)
    verify_folder(model_dir, version, allow_unlocked_model)
    cost = measure_cost(predictor, limits)
    log.info("model %s (%s) on the %s route, labels %s, %s; the largest request takes about "
             "%.2f s", model_dir, version.md5, route, predictor.labels, limits,
             cost.largest_request_s)
    model_response = ModelResponse(labels=predictor.labels, version=Version(**version.to_dict()),
                                   metrics=test_metrics, limits=LimitsInfo(
                                       **asdict(limits), max_body_bytes=limits.max_body_bytes),
                                   route=route, cost=cost)
    predict_request = request_model(limits)
    counters = Metrics(version, predictor.labels)
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
        docs_url=None,  # _add_docs: the same page from local files
        redoc_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = describe_errors(list(exc.errors()), limits)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, BodyTooLarge):
            return JSONResponse({"detail": str(exc.__cause__)}, status_code=413)
        if exc.status_code == 400:  # FastAPI's answer to a body its JSON parser gave up on
            return JSONResponse({"detail": body_error(exc.__cause__)}, status_code=422)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.get("/health", response_model=Health, summary="Liveness")
    async def health() -> Health:
        return Health()

    @app.get("/metrics", summary="Prometheus metrics (text format)",
             response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def prometheus() -> Response:
        return Response(counters.exposition(), media_type=CONTENT_TYPE)

    @app.get("/v1/model", response_model=ModelResponse, summary="The model being served")
    async def model() -> ModelResponse:
        return model_response

    errors: dict[int | str, dict[str, Any]] = {
        413: {"model": ErrorResponse, "description": "more than max_batch_size texts, or a "
              "body over max_body_bytes (refused before it is read)"},
        422: {"model": ErrorResponse, "description": "malformed JSON, an empty or "
              "whitespace-only text, a text over max_text_chars, or another invalid field"}}
    if keys:
        errors[401] = {"model": ErrorResponse,
                       "description": f"no valid API key in the {KEY_HEADER} header"}
        errors[503] = {"model": ErrorResponse, "description": "the API key file is invalid"}

    @app.post(PREDICT, response_model=PredictResponse, summary="Predict the sentiment of texts",
              responses=errors)
    async def predict(request: Request,
                      body: predict_request) -> PredictResponse:  # type: ignore[valid-type]
        texts = body.texts
        request.scope[TEXTS_SCOPE_KEY] = len(texts)
        if len(texts) <= INLINE_MAX_TEXTS:
            predictions = predictor.predict(texts)
        else:
            loop = asyncio.get_running_loop()
            predictions = await loop.run_in_executor(executor, predictor.predict, texts)
        counters.scored([prediction["label"] for prediction in predictions])
        return PredictResponse(predictions=predictions, model_version=version.md5)

    _add_page(app)
    _add_docs(app)
    if keys:
        _document_key(app)
    protected = frozenset({PREDICT})
    log_settings(keys, protected)
    routes = frozenset(route.path for route in app.routes)  # type: ignore[attr-defined]
    app.add_middleware(Observer, metrics=counters, routes=routes, keys=keys,
                       protected=protected, log_requests=log_requests,
                       max_body=limits.max_body_bytes)
    return app


def app_from_env() -> FastAPI:
    """The app configured by SENTIMENT_MODEL, SENTIMENT_LOCK, SENTIMENT_METRICS,
    SENTIMENT_API_KEYS_FILE, SENTIMENT_JSON_ACCESS_LOG and SENTIMENT_ALLOW_UNLOCKED_MODEL (1 for
    on), SENTIMENT_ROUTE (fast or pinned) and the SENTIMENT_MAX_*
    limits (``uvicorn --factory sentiment.serving.service:app_from_env``)."""
    environ = os.environ
    return create_app(environ.get(ENV_PREFIX + "MODEL", "models/sentiment"), Limits.from_env(),
                      environ.get(ENV_PREFIX + "LOCK") or None,
                      environ.get(ENV_PREFIX + "METRICS") or None,
                      api_keys=keys_file_from_env(environ),
                      log_requests=env_flag("JSON_ACCESS_LOG", environ),
                      allow_unlocked_model=env_flag("ALLOW_UNLOCKED_MODEL", environ),
                      route=environ.get(ENV_PREFIX + "ROUTE") or "fast")
