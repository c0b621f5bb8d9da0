"""The ``mlops`` command line (``mlops --help``): the one entry point DAG tasks and containers run."""

from mlops_platform.cli.app import app, main

__all__ = ["app", "main"]
