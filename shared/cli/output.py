"""How every `wfe` command reports a failure: one red line, no traceback, exit status 1."""

from __future__ import annotations

import logging
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

errors = Console(stderr=True, style="bold red", markup=False, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    errors.print(f"error: {message}")
    raise typer.Exit(1)


def settings_error(exc: ValidationError, prefix: str) -> NoReturn:
    problem = exc.errors()[0]
    field = prefix + "_".join(str(p) for p in problem["loc"]).upper()
    fail(f"{field}: {problem['msg']} (got {problem.get('input')!r})")


def quiet_kafka_client() -> None:
    """aiokafka logs each failed connection attempt; a command reports the failure itself,
    in one line, from the transport's error."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
