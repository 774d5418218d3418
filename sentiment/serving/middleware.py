"""One ASGI middleware around the app: body size and API-key checks, metrics, the access log.

A plain ASGI callable, not Starlette's ``BaseHTTPMiddleware``, which would cost a task and
streams per request: this one adds a few microseconds to a millisecond request.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from sentiment.serving.access_log import access_logger, entry, write
from sentiment.serving.auth import KeyFileError, KeyStore
from sentiment.serving.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KEY_HEADER = "X-API-Key"
TEXTS_SCOPE_KEY = "sentiment.texts"  # set by the predict endpoint: how many texts it held
OTHER = "other"  # the label of a path the app does not serve, or an unusual method
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(ValueError):
    """A body without a Content-Length grew past the limit while being read."""


def too_large(length: int | None, most: int) -> str:
    size = f"of {length} bytes " if length is not None else ""
    return (f"request body {size}over max_body_bytes={most} (max_batch_size x max_text_chars, "
            "JSON-escaped); split the batch")


def _counted(receive: Receive, most: int) -> Receive:
    """``receive`` that raises ``BodyTooLarge`` once the body read passes ``most`` bytes."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > most:
                raise BodyTooLarge(too_large(None, most))
        return message

    return counted


class Observer:
    """Checks the API key on ``protected`` paths (when ``keys`` is set), then counts and times
    every HTTP request in ``metrics`` and, if ``log_requests``, writes its access-log line."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, routes: frozenset[str],
                 keys: KeyStore | None = None, protected: frozenset[str] = frozenset(),
                 log_requests: bool = False, max_body: int | None = None) -> None:
        self.app, self.metrics, self.routes, self.max_body = app, metrics, routes, max_body
        self.keys, self.protected = keys, protected
        self.log = access_logger() if log_requests else None
        self.header = KEY_HEADER.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in self.routes else OTHER
        method = scope["method"] if scope["method"] in METHODS else OTHER
        status = 500  # what the client gets if the app raises before answering
        key_id = None

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            length = next((value for name, value in scope["headers"]
                           if name == b"content-length"), b"0")
            if self.max_body is not None and length.isdigit() and int(length) > self.max_body:
                await _answer(send_and_note, 413, too_large(int(length), self.max_body))
                return  # the body is never read
            if self.max_body is not None:
                receive = _counted(receive, self.max_body)
            if self.keys is not None and path in self.protected:
                key = next((value for name, value in scope["headers"] if name == self.header),
                           None)
                try:
                    key_id = self.keys.identify(key)
                except KeyFileError:
                    await _answer(send_and_note, 503, "the service's API key file is invalid; "
                                                      "the server log says why")
                    return
                if key_id is None:
                    await _answer(send_and_note, 401,
                                  f"{'an invalid' if key else 'no'} API key: send a valid key "
                                  f"in the {KEY_HEADER} header")
                    return
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - start
            self.metrics.observe(route, method, status, seconds)
            if self.log:
                write(self.log, entry(method, route, status, seconds,
                                      scope.get(TEXTS_SCOPE_KEY), key_id))


def log_settings(keys: KeyStore | None, protected: frozenset[str]) -> None:
    """Say at start whether the service is open or which routes need a key."""
    log = logging.getLogger(__name__)
    if keys is None:
        log.warning("no API keys configured: the service is open to anyone who can reach it "
                    "(--api-keys-file or SENTIMENT_API_KEYS_FILE to require keys)")
    else:
        log.info("API keys required (%s header) on %s; %d key id(s) in %s", KEY_HEADER,
                 ", ".join(sorted(protected)), len(keys), keys.path)
