"""One task runner, three backends: the ``mlops`` command in the worker, in Docker, in a pod.

``mlops_task`` returns the operator of the backend named in ``config/orchestration.yaml``
(``runner.backend``, or ``MLOPS_RUNNER_BACKEND``), so the same DAG file serves all three:

- ``local``: the command runs inside the Airflow worker's task process (the embedded default);
- ``docker``: DockerOperator runs the training-task image with ``mount_tmp_dir=False``;
- ``kubernetes``: KubernetesPodOperator runs it with ``on_finish_action``.

The environment of a container is taken from the worker's at run time: plain variables as
environment, secrets as Docker's private environment or Kubernetes Secret references. Nothing
secret is written in DAG code, rendered in a template field or stored with the DAG.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from mlops_dags.defaults import context_environment, run_environment
from mlops_dags.defaults import settings as default_settings
from mlops_platform.config import OrchestrationSettings
from mlops_platform.orchestration.environment import BACKEND_ENV

_logger = logging.getLogger("airflow.task")

# Box drawing (rich's tables) as ASCII; other symbols (MLflow's emoji) are dropped.
_BOX = {"─": "-", "━": "-", "│": "|", "┃": "|", "═": "=", "║": "|"}


class MlopsCommandFailed(RuntimeError):
    """The ``mlops`` command exited non-zero; the message carries its error output."""


class MlopsUsageError(MlopsCommandFailed, AirflowFailException):
    """The command line itself is wrong (a bad option or value): retrying cannot help."""


def plain_line(line: str) -> str:
    """A console line as plain text for the task log: ASCII boxes, no emoji, no trailing spaces."""
    chars = []
    for char in line:
        if char in _BOX or "\u2500" <= char <= "\u257f":
            chars.append(_BOX.get(char, "+"))
        elif unicodedata.category(char) in ("So", "Sk", "Cs") or char == "\ufe0f":
            continue
        else:
            chars.append(char)
    text = "".join(chars).rstrip()
    return text.lstrip() if line[:1] and not text.startswith(line[:1]) else text


class _LogLines(io.TextIOBase):
    """A stream whose complete lines go to the task logger at INFO (``error:`` lines at ERROR).

    Keeps a copy of what was written: the last error lines go into the exception message.
    """

    def __init__(self, logger: logging.Logger, errors: bool) -> None:
        self.logger = logger
        self.is_stderr = errors
        self.copy = io.StringIO()
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.copy.write(text)
        self._pending += text.replace("\r", "\n")
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        text = plain_line(line)
        if not text.strip():
            return
        real_error = self.is_stderr and text.lstrip().lower().startswith(("error:", "traceback"))
        self.logger.log(logging.ERROR if real_error else logging.INFO, "%s", text)

    def flush(self) -> None:
        """Lines are logged once complete; ``close`` logs a last unfinished one."""

    def close(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = ""
        super().close()


@contextlib.contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_mlops(args: Sequence[str], environment: dict[str, str] | None = None) -> None:
    """Run ``mlops ARGS`` in this process; raise MlopsCommandFailed with its error text on failure."""
    import typer

    from mlops_platform.cli import app

    # Typer may vendor its own click: take ClickException from its classes, not from ``click``.
    click_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

    stdout, stderr = _LogLines(_logger, errors=False), _LogLines(_logger, errors=True)
    redirect = contextlib.ExitStack()
    with redirect, _patched_environ(environment or {}):
        redirect.enter_context(contextlib.redirect_stdout(stdout))  # type: ignore[type-var]
        redirect.enter_context(contextlib.redirect_stderr(stderr))  # type: ignore[type-var]
        redirect.callback(stderr.close)
        redirect.callback(stdout.close)
        try:
            code = app(args=list(args), prog_name="mlops", standalone_mode=False)
        except click_error as exc:
            raise MlopsUsageError(f"mlops {' '.join(args)}: {exc.format_message()}") from None
        except SystemExit as exc:
            code = exc.code
    if code not in (None, 0):
        errors = [line for line in stderr.copy.getvalue().splitlines() if line.strip()]
        detail = "\n".join(errors[-5:]) or f"exit code {code}"
        raise MlopsCommandFailed(f"mlops {' '.join(args)} failed: {detail}")


class MlopsLocalOperator(BaseOperator):
    """Runs ``mlops COMMAND`` inside the worker's task process."""

    template_fields: Sequence[str] = ("command",)
    ui_color = "#e8f4ea"

    def __init__(self, *, command: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.command = command

    def execute(self, context: Any) -> None:
        self.log.info("mlops %s", " ".join(self.command))
        run_mlops(self.command, {BACKEND_ENV: "local", **context_environment(), **run_environment(context)})


def _backend_kwargs(settings: OrchestrationSettings) -> tuple[type[BaseOperator], dict[str, Any]]:
    backend = settings.runner.backend
    if backend == "docker":
        from mlops_dags.docker_backend import MlopsDockerOperator

        return MlopsDockerOperator, {
            "image": settings.runner.image,
            "docker_url": settings.docker.url,
            "network_mode": settings.docker.network_mode,
            "auto_remove": settings.docker.auto_remove,
        }
    if backend == "kubernetes":
        from mlops_dags.kubernetes_backend import MlopsKubernetesPodOperator

        k8s = settings.kubernetes
        return MlopsKubernetesPodOperator, {
            "image": settings.runner.image,
            "namespace": k8s.namespace,
            "secret_name": k8s.secret_name,
            "secret_keys": list(settings.runner.secret_env),
            "in_cluster": k8s.in_cluster,
            "on_finish_action": k8s.on_finish_action,
            "startup_timeout_seconds": k8s.startup_timeout_seconds,
        }
    return MlopsLocalOperator, {}


def mlops_task(
    task_id: str, command: list[str], settings: OrchestrationSettings | None = None, **kwargs: Any
) -> BaseOperator:
    """The operator that runs ``mlops COMMAND`` (Jinja-templated) on the configured backend."""
    cls, backend = _backend_kwargs(settings or default_settings())
    return cls(task_id=task_id, command=command, **backend, **kwargs)


def mlops_mapped_task(task_id: str, commands: Any, settings: OrchestrationSettings | None = None, **kwargs: Any) -> Any:
    """One ``mlops`` task per command of ``commands`` (an upstream task's list): dynamic task mapping."""
    cls, backend = _backend_kwargs(settings or default_settings())
    return cls.partial(task_id=task_id, **backend, **kwargs).expand(command=commands)
