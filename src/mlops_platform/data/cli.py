"""``mlops data ...``: generate demo data, import real data, validate raw partitions."""

from __future__ import annotations

import typer

app = typer.Typer(help="Raw data: generate demo data, import real files, validate.", no_args_is_help=True)
