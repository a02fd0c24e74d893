"""`wfe token create`: mint a bearer token the services in this folder/configuration accept."""

from __future__ import annotations

from datetime import timedelta

import typer

from shared.cli.output import fail
from shared.cli.serve import settings
from shared.http.auth import SCOPES, Authenticator, InsecureSigningKey, signing_key

app = typer.Typer(help="Bearer tokens for operators, scripts and tests.", no_args_is_help=True)


@app.command()
def create(
    scope: list[str] = typer.Option(
        ..., "--scope", "-s", help=f"Repeat for several: {', '.join(SCOPES)}"
    ),
    subject: str = typer.Option("operator", help="Who the token stands for (recorded as actor)."),
    ttl_minutes: int = typer.Option(60, min=1, max=60 * 24 * 30, help="Lifetime in minutes."),
) -> None:
    """Print a token with the given scopes."""
    configured = settings()
    try:
        key = signing_key(configured.signing_key, configured.data_dir, configured.environment)
        token = Authenticator(key).mint(subject, scope, timedelta(minutes=ttl_minutes))
    except (InsecureSigningKey, ValueError) as exc:
        fail(str(exc))
    typer.echo(token)
