"""The `navreme` command: every capability is reachable from here."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from navreme.cli import (
    audit,
    bench,
    cases,
    cluster,
    db,
    identity,
    listen,
    messages,
    open311,
    plan,
    registry,
    rules,
    seed,
    serve,
    simulate,
    translations,
    worker,
)  # fmt: skip
from navreme.config import get_settings

app = typer.Typer(
    help="Navreme: proactive, integrated, omni-channel public services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def check_settings() -> None:
    """Refuse to start on bad settings with a plain message instead of a traceback."""
    try:
        get_settings()
    except ValidationError as invalid:
        for error in invalid.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"navreme: bad setting {field}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


app.add_typer(db.app, name="db")
app.add_typer(bench.app, name="bench")
app.add_typer(registry.app, name="registry")
app.add_typer(rules.app, name="rules")
app.add_typer(audit.app, name="audit")
app.add_typer(simulate.app, name="simulate")
app.add_typer(plan.app, name="plan")
app.add_typer(messages.app, name="messages")
app.add_typer(translations.app, name="translations")
app.add_typer(cases.app, name="cases")
app.add_typer(cluster.app, name="cluster")
app.add_typer(open311.app, name="open311")
app.add_typer(identity.officer_app, name="officer")
app.add_typer(identity.token_app, name="token")
app.command("seed")(seed.seed)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("worker")(worker.worker)
app.command("listen")(listen.listen)

if __name__ == "__main__":
    app()
