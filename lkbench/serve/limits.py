"""Request-body size limit as a plain ASGI middleware.

The limit is enforced before the body is parsed: a ``Content-Length`` above it is refused at
once, and a body sent without one (chunked) is counted as it arrives and refused as soon as it
passes the limit, so an oversized request never occupies memory or a render worker.
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from starlette.exceptions import HTTPException

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _TooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit. An HTTPException, so that FastAPI's
    body reader re-raises it (rather than calling it a parse error) and answers 413."""

    def __init__(self, detail: str):
        super().__init__(status_code=413, detail=detail)


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answer 413 to HTTP requests whose body exceeds ``max_bytes`` (400 for a malformed
    ``Content-Length``).

    Args:
        app: the wrapped ASGI app.
        max_bytes: the largest body accepted, in bytes.
    """

    def __init__(self, app: Callable, max_bytes: int):
        self.app, self.max_bytes = app, int(max_bytes)

    def _message(self, size: "int | None") -> str:
        got = "" if size is None else f" ({size} bytes)"
        return (f"request body too large{got}: the limit is {self.max_bytes} bytes (lkbench "
                "serve --max-body-kb raises it)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                size = int(length)
                if size < 0:
                    raise ValueError
            except ValueError:
                await _reply(send, 400, f"invalid Content-Length header {length[:20]!r}")
                return
            if size > self.max_bytes:
                await _reply(send, 413, self._message(size))
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self._message(None))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge as exc:
            if not started:
                await _reply(send, 413, exc.detail)
