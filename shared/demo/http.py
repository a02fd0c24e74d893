"""A small JSON-over-HTTP client on the standard library (the CLI must not need the test
dependencies): one keep-alive connection per thread, and failures the CLI can state in one
line."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class Unreachable(Exception):
    """Nothing answers at the URL (or it stopped answering)."""


class TokenRefused(Exception):
    """The server answered 401 or 403 to the token."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any

    def problem(self) -> str:
        """The error's own words, for a one-line report."""
        if isinstance(self.body, dict):
            text = self.body.get("detail") or self.body.get("title")
            if text:
                return f"{self.status} {text}"
        return f"{self.status} {str(self.body)[:200]}"


RETRIED = frozenset({502, 503, 504})
"""Answers that say "not now": the database is busy (SQLite's single writer) or restarting.
Every demo request is safe to repeat (event ids, idempotency keys), so it is retried."""
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


class Api:
    def __init__(self, url: str, token: str, timeout: float = 300.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def with_token(self, token: str) -> Api:
        return Api(self.url, token, self._timeout)

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = factory(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> Answer:
        for pause in BACKOFF:
            answer = self._once(method, path, body, content_type, headers, query)
            if answer.status not in RETRIED:
                return answer
            time.sleep(pause)
        return self._once(method, path, body, content_type, headers, query)

    def _once(
        self,
        method: str,
        path: str,
        body: Any,
        content_type: str,
        headers: dict[str, str] | None,
        query: dict[str, str] | None,
    ) -> Answer:
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        sent = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode()
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        # A kept-alive connection the server closed fails on first use: one fresh retry.
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request(method, target, payload, sent)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self._drop()
                if attempt == 2:
                    raise Unreachable(f"{self.url} closed the connection ({e})") from e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise Unreachable(f"cannot reach {self.url}: {_reason(e)}") from e
        names = {k.lower(): v for k, v in response.getheaders()}
        answer = Answer(response.status, names, _decode(raw))
        if answer.status in (401, 403):
            raise TokenRefused(f"{self.url} refused the token: {answer.problem()}")
        return answer

    def close(self) -> None:
        """Closes every thread's connection."""
        with self._lock:
            for conn in self._opened:
                conn.close()
            self._opened.clear()


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is `wfe dev` or the registry running there?)"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    return str(error) or type(error).__name__
