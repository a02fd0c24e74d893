"""Every report as JSON or, with `Accept: text/csv`, as CSV: the same lines either way.

JSON: `{"report", "parameters", ...summary, "items"}`. CSV: a header of the item fields, one
line per item; lists become `;`-joined values, objects inside lists `/`-joined values, other
objects compact JSON, nulls empty cells.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from shared.http.problems import Problem

CSV = "text/csv"
JSON = "application/json"


def wants_csv(request: Request) -> bool:
    """Content negotiation between JSON (the default) and CSV, by q-value; 406 if the
    caller accepts neither."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return False
    quality = {CSV: 0.0, JSON: 0.0}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for offered in quality:
            kind = offered.split("/")[0]
            if media.lower() in (offered, f"{kind}/*", "*/*"):
                quality[offered] = max(quality[offered], q)
    if quality[CSV] == 0 and quality[JSON] == 0:
        raise Problem(
            406,
            "not-acceptable",
            "Not acceptable",
            f"reports are available as {JSON} and {CSV}",
        )
    return quality[CSV] > quality[JSON]


def items_of(lines: Sequence[Any]) -> list[dict[str, Any]]:
    """Dataclass report lines as dicts (nested tuples become lists)."""
    return [dataclasses.asdict(line) for line in lines]


def fields_of(cls: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def report(
    request: Request,
    name: str,
    parameters: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    summary: Mapping[str, Any] | None = None,
) -> Response:
    """`summary`: figures about the whole report besides its lines (JSON only)."""
    if not wants_csv(request):
        body = {
            "report": name,
            "parameters": dict(parameters),
            **(summary or {}),
            "items": list(items),
        }
        return JSONResponse(jsonable_encoder(body))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for item in items:
        writer.writerow([_cell(item.get(c)) for c in columns])
    return Response(
        out.getvalue(),
        media_type=f"{CSV}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(_part(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(jsonable_encoder(value), separators=(",", ":"), sort_keys=True)
    return str(value)


def _part(value: Any) -> str:
    if isinstance(value, Mapping):
        return "/".join(_cell(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "/".join(_cell(v) for v in value)
    return _cell(value)
