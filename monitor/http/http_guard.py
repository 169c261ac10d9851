"""Guards of the daemon's HTTP API: bearer-token auth, a request body cap, bounded JSON bodies."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.json_body import JSONBodyError, read_json


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def require_token(expected: Callable[[], str | None]) -> Callable[[Request], None]:
    """A FastAPI dependency: 401 without a bearer token, 403 with a wrong one (constant-time compare),
    503 when the token file cannot be read."""

    def dependency(request: Request) -> None:
        try:
            token = expected()
        except (OSError, UnicodeDecodeError) as exc:  # a token file gone or unreadable: refuse, never 500
            raise HTTPException(
                503,
                f"writes are unavailable: the token file cannot be read ({getattr(exc, 'strerror', None) or exc})",
            ) from None
        if not token:
            raise HTTPException(
                403, "writes are disabled: no API token is configured (api.token or api.token_file)"
            )
        given = bearer_token(request)
        if given is None:
            raise HTTPException(
                401, "missing 'Authorization: Bearer <token>' header", {"WWW-Authenticate": "Bearer"}
            )
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(403, "wrong bearer token")

    return dependency


class JSONBodyRoute(APIRoute):
    """A route whose JSON body is decoded by :func:`serving.json_body.read_json`.

    FastAPI decodes a pydantic-typed body with ``json.loads``, which recurses into arrays and
    objects nested thousands deep and accepts ``NaN``, which the reply then cannot render. Here
    the body is refused with a 422 naming the problem (the depth found and the limit, the
    offending number) before any of that can happen. Set it as ``app.router.route_class``.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(_BoundedJSONRequest(request.scope, request.receive))

        return bounded


class _BoundedJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = read_json(await self.body())
            except JSONBodyError as exc:
                raise HTTPException(422, str(exc)) from None
        return self._json


class BodyLimit:
    """ASGI middleware answering 413 once a request body exceeds ``max_bytes``.

    One request gets one response. A declared ``Content-Length`` over the limit is answered
    before the app runs. A body that crosses the limit while the app reads it (chunked, or
    longer than declared) is answered 413 by the limit at that moment; from then on the app's
    reads see the client as gone and whatever it sends is dropped. If the app had already
    started its own response, the limit sends nothing: the response stays unfinished, so the
    server closes the connection instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reject(send, self.max_bytes)
            return
        exchange = _Exchange(receive, send, self.max_bytes)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except ClientDisconnect:
            if not exchange.cut:
                raise
            # The app noticed, by the disconnect it was handed, that the limit has answered.


class _Exchange:
    """The receive and send of one request under a body limit (see :class:`BodyLimit`)."""

    def __init__(self, receive: Receive, send: Send, max_bytes: int):
        self._receive, self._send, self.max_bytes = receive, send, max_bytes
        self.seen = 0
        self.started = False  # the app has sent http.response.start
        self.cut = False  # the limit has ended the exchange; the app may no longer send

    async def receive(self) -> Message:
        if self.cut:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.max_bytes:
                self.cut = True
                if not self.started:
                    await _reject(self._send, self.max_bytes)
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.cut:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


async def _reject(send: Send, max_bytes: int) -> None:
    body = f'{{"detail":"request body larger than {max_bytes} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
