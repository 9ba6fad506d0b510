"""A deadline on receiving request bodies: a client that stops sending mid-body gets 408 and is let go.

Granian bounds only the header read (`--http1-header-read-timeout`); without this a client that sends
headers with a Content-Length and then stalls holds its connection and its handler forever. Like
nginx's `client_body_timeout`, the timeout applies between two reads of the body, so a large upload
over a slow link is fine as long as it keeps moving; a reverse proxy in front should also bound it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from secapi.entrypoints.http.problems import PROBLEM_BASE


def body_receive_timeout(timeout: float) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware answering 408 (problem+json, connection closed) when no body bytes arrive for `timeout` s."""

    def middleware(app: ASGIApp) -> ASGIApp:
        if timeout <= 0:
            return app

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP or not _has_body(scope):
                await app(scope, receive, send)  # no body to wait for: a later receive only waits for a disconnect
                return
            state = {"body_done": False, "started": False, "timed_out": False}

            async def timed_receive() -> ReceiveMessage:
                if state["body_done"]:
                    return await receive()  # waiting for a disconnect is not a body read
                try:
                    message = await asyncio.wait_for(receive(), timeout)
                except TimeoutError:
                    state["timed_out"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _send_408(send, timeout)
                    return {"type": "http.disconnect"}  # the app stops reading and unwinds
                if message["type"] != "http.request" or not message.get("more_body", False):
                    state["body_done"] = True
                return message

            async def tracked_send(message: Message) -> None:
                if state["timed_out"]:
                    return  # the 408 has been sent; whatever the app answers to the disconnect is dropped
                if message["type"] == "http.response.start":
                    state["started"] = True
                await send(message)

            await app(scope, timed_receive, tracked_send)

        return guarded

    return middleware


def _has_body(scope: Scope) -> bool:
    """True when the request announces a body (a non-zero Content-Length, or any Transfer-Encoding)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


async def _send_408(send: Send, seconds: float) -> None:
    body = json.dumps(
        {
            "type": PROBLEM_BASE + "request-timeout",
            "title": "Request Timeout",
            "status": 408,
            "detail": f"the request body stopped arriving: no bytes for {seconds:g} seconds",
        }
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
