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
            await self._refuse(send)
            return
        received = 0
        exceeded = False

        async def limited_receive() -> Message:
            # Raised inside the route's body read: routes that read their body themselves
            # answer it in their own error format.
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise self._problem()
            return message

        async def guarded_send(message: Message) -> None:
            # FastAPI turns any error while it parses a body into its own 400, so once the
            # limit is passed, an answer other than a 413 is replaced by ours.
            nonlocal exceeded
            if exceeded and message["type"] == "http.response.start":
                if message["status"] != 413:
                    await self._refuse(send)
                    return
                exceeded = False  # the route's own 413: pass it on
            if not exceeded:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(self._problem().body()).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _problem(self) -> Problem:
        return Problem(
            413,
            "payload-too-large",
            "Payload too large",
            f"request bodies are limited to {self.max_bytes} bytes",
        )
