"""The `wfe` command. Each area of the project registers its sub-app here, one line each."""

from __future__ import annotations

import typer

from shared.cli import asyncapi, bench, demo, dev, rebuild, replay, serve, stack, tail, token

app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False)
app.add_typer(stack.app, name="stack")
app.add_typer(serve.app, name="serve")
app.add_typer(token.app, name="token")
app.command(name="dev")(dev.dev)
app.command(name="demo")(demo.demo)
app.command(name="asyncapi")(asyncapi.asyncapi)
app.command(name="rebuild")(rebuild.rebuild)
app.command(name="replay")(replay.replay)
app.command(name="tail")(tail.tail)
app.command(name="bench")(bench.bench)

if __name__ == "__main__":
    app()
