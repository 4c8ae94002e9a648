"""ASGI middleware: request size limit and security headers, for every endpoint."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# Every page loads from the API alone, so that it works offline and leaks nothing: /docs and /redoc
# (assets from fastapi-offline's wheel; Swagger UI starts from an inline script, both style inline and
# ReDoc searches in a blob: worker; ReDoc's footer logo would come from its CDN and is blocked); the web
# pages (plots arrive as blob: URLs, fetched with the key header); every other answer loads nothing.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS_CSP = (b"content-security-policy", b"default-src 'self'; script-src 'self' 'unsafe-inline'; "
            b"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; "
            b"connect-src 'self'; base-uri 'none'; frame-ancestors 'none'")
PAGE_CSP = (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
            b"img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            b"frame-ancestors 'none'")


def _csp(path: str) -> list[tuple[bytes, bytes]]:
    if path.startswith(("/docs", "/redoc")):
        return [DOCS_CSP]
    if path == "/" or path.startswith("/ui/") or path == "/ui":
        return [PAGE_CSP]
    return [API_CSP]


class _TooLarge(Exception):
    pass


async def _json_response(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimit:
    """413 for a body over `max_bytes` (or the path's own limit in `per_path`, e.g. dataset and image uploads),
    whether or not the client declared its length: a refused body is never stored."""

    def __init__(self, app: ASGIApp, max_bytes: int, per_path: dict[str, tuple[int, str]] | None = None) -> None:
        """`per_path`: path -> (its limit, the setting that sets it), named in the 413."""
        self.app, self.max_bytes, self.per_path = app, max_bytes, dict(per_path or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.per_path.get(scope.get("path", ""), (self.max_bytes, "FERBENCH_MAX_BODY_BYTES"))
        message = f"request body larger than {limit} bytes; send at most {limit} bytes (server setting {setting})"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _json_response(send, 400, {"detail": "invalid Content-Length header"})
                    return
                if declared > limit:
                    await _json_response(send, 413, {"detail": message})
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _json_response(send, 413, {"detail": message})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = _csp(scope.get("path", ""))

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = [h for h in msg.get("headers", []) if h[0].lower() not in {k for k, _ in SECURITY_HEADERS}]
                headers += SECURITY_HEADERS + csp
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, with_headers)
