"""Shapes of text every API accepts: no control characters (PostgreSQL refuses NUL in text
and JSON, and no name or filter needs a tab or a newline)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator

PRINTABLE = r"^[^\x00-\x1F\x7F]*$"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"


def _not_a_number(value: Any) -> Any:
    """Pydantic reads "20250301" as seconds since 1970; a caller who wrote it meant a date.
    Only ISO 8601 text is accepted for dates and times."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit()
    ):
        raise ValueError("give an ISO 8601 date or date-time, not a number")
    return value


IsoDate = Annotated[date, BeforeValidator(_not_a_number)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
