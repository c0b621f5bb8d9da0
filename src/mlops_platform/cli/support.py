"""Shared plumbing of the command line: the settings/store context, errors, progress bars."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mlops_platform.cli import failures
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
    verbose: bool = False

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
    # urllib3 warns once per retry of a refused connection; the failure itself is reported once.
    logging.getLogger("urllib3").setLevel(logging.INFO if verbose else logging.ERROR)


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
    """Turn the errors a user can cause into ``error: <message>`` and exit code 1.

    So are the failures of the services a command talks to (``failures.describe``: MLflow or S3
    not reachable, a snapshot that does not fit the model's schema), unless ``--verbose`` asks
    for their traceback. Every other exception propagates with its traceback.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except USER_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            _fail(message)
        except Exception as exc:
            message = failures.describe(exc)
            if message is None or _verbose(kwargs.get("ctx")):
                raise
            _fail(message)

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1) from None


def _verbose(ctx: Any) -> bool:
    """Whether the command given ``ctx`` (its context, as every command's ``ctx`` argument) has ``--verbose``."""
    find_root = getattr(ctx, "find_root", None)
    obj = find_root().obj if callable(find_root) else None
    return isinstance(obj, CliContext) and obj.verbose


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
