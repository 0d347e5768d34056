"""`navreme cases train|classify`: build the request classifier from real 311 data, try it."""

from __future__ import annotations

from pathlib import Path

import typer

from navreme.cases import SEED
from navreme.config import get_settings
from navreme.demo.reference import datasets_dir

# scikit-learn is imported inside the commands: at module level it cost every `navreme`
# command (a worker, `--help`) about 6 s of start-up.

app = typer.Typer(help="Cases: request classification.", no_args_is_help=True)


@app.command("train")
def train_command(
    datasets: Path = typer.Option(None, "--datasets", help="public datasets (NAVREME_DATASETS)"),
    out: Path = typer.Option(
        None, "--out", help="model file; default NAVREME_HOME/models/classifier.json"
    ),
    seed: int = typer.Option(SEED, "--seed", help="same seed and data → same weights"),
) -> None:
    """Train on Boston's 311 free text (fixed 80/20 split), print test metrics, write the model."""
    from navreme.cases.classifier import MODEL_FILE, weights_digest
    from navreme.cases.evaluation import BOSTON, train_boston

    source = datasets or datasets_dir()
    if not (source / BOSTON).is_file():
        typer.echo(
            f"navreme: {source / BOSTON} not found (use --datasets or NAVREME_DATASETS)", err=True
        )
        raise typer.Exit(2)
    model, result = train_boston(source, seed=seed)
    target = out or get_settings().home / MODEL_FILE
    model.save(target)
    typer.echo(f"model      {target}")
    typer.echo(f"trained on {model.metadata['train_size']:,} requests, "
               f"tested on {model.metadata['test_size']:,}, {len(model.labels)} categories")  # fmt: skip
    typer.echo(f"macro-F1   {result.macro_f1:.4f}   accuracy {result.accuracy:.4f}")
    typer.echo(f"seconds    {result.train_seconds:.1f}")
    typer.echo(f"weights    sha256 {weights_digest(model)}")


@app.command("classify")
def classify_command(text: str = typer.Argument(..., help="the citizen's words")) -> None:
    """Predict the category of TEXT with the installed model (or the built-in one)."""
    from navreme.cases.classifier import ModelFileError, classify

    try:
        prediction = classify(text)
    except ModelFileError as error:
        typer.echo(f"navreme: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(f"{prediction.label}  {prediction.confidence:.2f}  (model: {prediction.model})")
    for label, probability in prediction.alternatives:
        typer.echo(f"  or {label}  {probability:.2f}")
