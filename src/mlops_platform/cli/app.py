"""The ``mlops`` command line: the root app and its global options; the commands live beside it.

One module per command group (``cli/data.py``, ``cli/train.py``, ...). A command body parses its
options, calls one function of :mod:`mlops_platform.pipelines` (or of the layer it needs) and
renders the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_platform import __version__
from mlops_platform.cli.data import app as data_app
from mlops_platform.cli.drift import drift_app
from mlops_platform.cli.failures import mlflow_http_defaults
from mlops_platform.cli.features import app as features_app
from mlops_platform.cli.lake import lake_app
from mlops_platform.cli.models import models_app, promote, rollback
from mlops_platform.cli.recommend import recommend
from mlops_platform.cli.score import score
from mlops_platform.cli.serve import serve
from mlops_platform.cli.support import CliContext, configure_logging, out
from mlops_platform.cli.train import train, training_set_app
from mlops_platform.cli.webhook import webhook_app

app = typer.Typer(
    name="mlops",
    help="Keep a zoo of customer models fresh: data, features, training, registry, scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for _command in (train, promote, rollback, score, recommend, serve):
    app.command(_command.__name__)(_command)
for _group, _name in (
    (data_app, "data"),
    (features_app, "features"),
    (lake_app, "lake"),
    (training_set_app, "training-set"),
    (models_app, "models"),
    (webhook_app, "webhook"),
    (drift_app, "drift"),
):
    app.add_typer(_group, name=_name)


def _version(value: bool) -> None:
    if value:
        out.print(f"mlops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Folder with platform.yaml (default: $MLOPS_CONFIG_DIR or ./config)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Keep a zoo of customer models fresh: data, features, training, registry, scoring."""
    configure_logging(verbose)
    ctx.with_resource(mlflow_http_defaults())
    ctx.obj = CliContext(config_dir=config_dir, verbose=verbose)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
