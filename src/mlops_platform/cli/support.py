"""Shared plumbing of the command line: the settings/store context, errors, progress bars."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mlops_platform.config import (
    ConfigError,
    ModelsSettings,
    PlatformSettings,
    load_models_settings,
    load_platform_settings,
)
from mlops_platform.errors import PlatformError
from mlops_platform.storage import ObjectStore, StorageError

console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """What every command needs: the settings and the opened lake."""

    config_dir: Path | None

    @functools.cached_property
    def settings(self) -> PlatformSettings:
        return load_platform_settings(self.config_dir)

    @functools.cached_property
    def models(self) -> ModelsSettings:
        return load_models_settings(self.config_dir)

    @functools.cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.settings.storage.uri)


def configure_logging(verbose: bool) -> None:
    """INFO logs with ``--verbose``; otherwise warnings, and only errors from MLflow's chatty loggers."""
    import logging

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("mlflow").setLevel(logging.INFO if verbose else logging.ERROR)


def get_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext(config_dir=None)
        ctx.find_root().obj = obj
    return obj


def parse_date(text: str, name: str = "date") -> dt.date:
    """Parse YYYY-MM-DD or fail with a message naming the option."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date in YYYY-MM-DD form", param_hint=f"--{name}") from None


USER_ERRORS: tuple[type[BaseException], ...] = (
    PlatformError,
    ConfigError,
    StorageError,
    KeyError,
    ValueError,
)


def user_errors(func: F) -> F:
    """Turn the errors a user can cause into ``error: <message>`` and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except USER_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    """A progress bar for long steps (drawn on stderr, plain text when not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=not sys.stderr.isatty(),
        disable=not sys.stderr.isatty(),
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar."""
    with progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
