"""The HTTP ceiling for the service benchmarks: FastAPI, one JSON POST route that validates
a body like a registration and answers it back, no database. Served by uvicorn exactly as
`wfe serve` serves the services (one worker, the same event loop and HTTP implementation).
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel


class Registration(BaseModel):
    contributor_type: str
    display_name: str
    email: str | None = None
    owning_function: str
    sponsor: str
    business_unit: str


app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/echo", status_code=201)
async def echo(body: Registration) -> Registration:
    return body
