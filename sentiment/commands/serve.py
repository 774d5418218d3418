"""`sentiment serve`: the FastAPI service on uvicorn.

Every option but ``--access-log`` also reads an environment variable (``SENTIMENT_MODEL``,
``SENTIMENT_HOST``, ``SENTIMENT_PORT``, ``SENTIMENT_WORKERS``, ``SENTIMENT_LOCK``,
``SENTIMENT_METRICS``, ``SENTIMENT_MAX_BATCH_SIZE``, ``SENTIMENT_MAX_TEXT_CHARS``,
``SENTIMENT_API_KEYS_FILE``, ``SENTIMENT_JSON_ACCESS_LOG``, ``SENTIMENT_ROUTE``); a flag wins
over its variable.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from sentiment.commands.options import add_route_option
from sentiment.errors import ModelLoadError

log = logging.getLogger("serve")

ENV_PREFIX = "SENTIMENT_"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name) or default  # set but empty counts as unset


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the model over HTTP (FastAPI on uvicorn)",
        description="Serve a model folder over HTTP: a web page at /, GET /health, "
                    "GET /metrics (Prometheus), GET /v1/model, POST /v1/predict, OpenAPI docs "
                    "at /docs. Every option but --access-log "
                    "can also be set by the environment variable SENTIMENT_<OPTION> (e.g. "
                    "SENTIMENT_PORT, SENTIMENT_MAX_BATCH_SIZE); a flag wins.")
    parser.add_argument("--model", type=Path, default=Path(_env("MODEL", "models/sentiment")),
                        help="model folder (default: %(default)s)")
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"),
                        help="interface to bind (default: %(default)s)")
    parser.add_argument("--port", type=positive_int, default=_env("PORT", "8000"),
                        help="port to bind (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=_env("WORKERS", "1"),
                        help="uvicorn worker processes, each with its own copy of the model "
                             "(default: %(default)s)")
    parser.add_argument("--max-batch-size", type=positive_int,
                        default=_env("MAX_BATCH_SIZE", "256"),
                        help="most texts per request; more get 413 (default: %(default)s)")
    parser.add_argument("--max-text-chars", type=positive_int,
                        default=_env("MAX_TEXT_CHARS", "5000"),
                        help="most characters per text; longer gets 422 (default: %(default)s)")
    parser.add_argument("--lock", type=Path, default=_env("LOCK"),
                        help="dvc.lock that records the model's hash (default: the nearest "
                             "one above the model folder)")
    parser.add_argument("--metrics", type=Path, default=_env("METRICS"),
                        help="evaluate-stage metrics JSON (default: <reports>/metrics.json "
                             "next to that dvc.lock)")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                        help="uvicorn's plain-text log line per request (default: on)")
    parser.add_argument("--json-access-log", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="one JSON line per request on standard output (time, route, "
                             "status, latency, texts, key id) instead of uvicorn's line "
                             "(default: off; SENTIMENT_JSON_ACCESS_LOG=1)")
    parser.add_argument("--api-keys-file", type=Path, default=None,
                        help="require an API key (X-API-Key header) on /v1/predict; the file "
                             "holds <key-id>:<sha256 of the key> lines and is reloaded when it "
                             "changes (default: $SENTIMENT_API_KEYS_FILE; unset: none, the "
                             "service is open; set but empty: refused)")
    parser.add_argument("--allow-unlocked-model", action="store_true",
                        default=_env("ALLOW_UNLOCKED_MODEL") == "1",
                        help="serve a model folder whose bytes differ from what dvc.lock "
                             "records, with a warning (default: refuse it at start)")
    add_route_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that other sub-commands do not pay for FastAPI and uvicorn.
    import uvicorn

    from sentiment.serving.auth import KeyFileError, keys_file_from_env
    from sentiment.serving.metrics import MULTIPROCESS_ENV
    from sentiment.serving.schemas import Limits, env_flag
    from sentiment.serving.service import create_app

    try:
        json_log = env_flag("JSON_ACCESS_LOG") if args.json_access_log is None \
            else args.json_access_log
        if args.api_keys_file is None:
            found = keys_file_from_env(os.environ)
            args.api_keys_file = Path(found) if found else None
    except ValueError as error:
        log.error("%s", error)
        return 2
    limits = Limits(max_batch_size=args.max_batch_size, max_text_chars=args.max_text_chars)
    options = {"host": args.host, "port": args.port,
               "access_log": args.access_log and not json_log, "log_level": "info"}
    with tempfile.TemporaryDirectory(prefix="sentiment-metrics-") as shared:
        if args.workers > 1 and not os.environ.get(MULTIPROCESS_ENV):
            os.environ[MULTIPROCESS_ENV] = shared  # workers add up their metrics there
        try:
            app = create_app(args.model, limits, args.lock, args.metrics,
                             api_keys=args.api_keys_file, log_requests=json_log,
                             allow_unlocked_model=args.allow_unlocked_model, route=args.route)
        except (ModelLoadError, FileNotFoundError, KeyFileError) as error:
            log.error("%s", error)
            return 2
        if args.workers == 1:
            uvicorn.run(app, **options)
            return 0
        # Worker processes build their own app from the environment.
        del app
        settings = {"MODEL": args.model, "LOCK": args.lock, "METRICS": args.metrics,
                    "MAX_BATCH_SIZE": limits.max_batch_size,
                    "MAX_TEXT_CHARS": limits.max_text_chars,
                    "API_KEYS_FILE": args.api_keys_file, "JSON_ACCESS_LOG": int(json_log),
                    "ALLOW_UNLOCKED_MODEL": int(args.allow_unlocked_model),
                    "ROUTE": args.route}
        for name, value in settings.items():
            if value is None:
                os.environ.pop(ENV_PREFIX + name, None)
            else:
                os.environ[ENV_PREFIX + name] = str(value)
        uvicorn.run("sentiment.serving.service:app_from_env", factory=True,
                    workers=args.workers, **options)
    return 0
