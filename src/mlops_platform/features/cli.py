"""``mlops features ...``: daily customer feature snapshots and their labels."""

from __future__ import annotations

import typer

app = typer.Typer(help="Point-in-time customer feature snapshots and labels.", no_args_is_help=True)
