"""`navreme translations check|update`: keep every page text translated into mk and sq."""

from __future__ import annotations

import typer

app = typer.Typer(help="The pages' translations (Babel catalogues in src/navreme/locale).")


@app.command()
def check() -> None:
    """List texts without an mk or sq translation (exit 1 when there are any)."""
    from navreme.web import catalogues

    found = catalogues.all_problems()
    for problem in found:
        typer.echo(str(problem))
    typer.echo(f"{len(catalogues.extract())} texts, {len(found)} problems")
    raise typer.Exit(1 if found else 0)


@app.command()
def update() -> None:
    """Append missing texts, untranslated, to locale/<lang>/LC_MESSAGES/new.po."""
    from navreme.web import catalogues

    for language, count in catalogues.update().items():
        typer.echo(f"{language}: {count} new texts in new.po")
        for msgid in catalogues.unused(language):
            typer.echo(f"{language}: no page uses {msgid!r} any more")
