"""Refuses request bodies over a size limit with 413, before they are read into memory.

Checks Content-Length up front and counts the bytes of bodies sent without one (chunked),
so a huge or endless body cannot grow the process.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import PROBLEM_JSON, Problem


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            body = json.dumps(self._problem().body()).encode()
            headers = [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def limited_receive() -> Message:
            # Raised inside the route's body read, so the app's problem handler answers it.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._problem()
            return message

        await self.app(scope, limited_receive, send)

    def _problem(self) -> Problem:
        return Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"request bodies are limited to {self.max_bytes} bytes",
        )
