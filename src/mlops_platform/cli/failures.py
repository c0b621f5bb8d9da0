"""One line for the failures of the services a command talks to: MLflow, S3, a model's schema.

A tracking server that does not answer, an S3 endpoint that cannot be reached and a snapshot
that does not fit a model's input schema are not bugs of the platform; ``describe`` turns each
into one sentence naming the URI, the endpoint or the column. Any other exception gets
``None`` and keeps its traceback. MLflow and requests are only inspected when already imported
(an exception of theirs cannot exist otherwise), so the command line stays quick to start.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from urllib.parse import urlsplit

# MLflow retries a refused request 7 times with a doubling back-off (about 4 minutes in all)
# before it gives up; a command fails within seconds instead, unless these are set.
CLI_MLFLOW_HTTP_DEFAULTS: Mapping[str, str] = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
_AWS_ERROR = "AWS Error "
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


def describe(exc: BaseException) -> str | None:
    """One line for a failure of MLflow, S3 or a model's input schema; ``None`` for anything else."""
    for explain in (_schema_mismatch, _unreachable_server, _s3_failure, _s3_artifacts_unreachable):
        line = explain(exc)
        if line is not None:
            return " ".join(line.split())
    return None


@contextmanager
def mlflow_http_defaults(environ: MutableMapping[str, str] | None = None) -> Iterator[None]:
    """Set ``CLI_MLFLOW_HTTP_DEFAULTS`` for the variables that are not set; restore them on exit."""
    environ = os.environ if environ is None else environ
    added = [name for name in CLI_MLFLOW_HTTP_DEFAULTS if name not in environ]
    for name in added:
        environ[name] = CLI_MLFLOW_HTTP_DEFAULTS[name]
    try:
        yield
    finally:
        for name in added:
            environ.pop(name, None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_mlflow_error(exc: BaseException) -> bool:
    module = sys.modules.get("mlflow.exceptions")
    return module is not None and isinstance(exc, module.MlflowException)


def _schema_mismatch(exc: BaseException) -> str | None:
    """MLflow's "Failed to enforce schema ...": the cause names the column (the data is left out)."""
    if not _is_mlflow_error(exc) or "Failed to enforce" not in str(exc) or "schema" not in str(exc):
        return None
    inner = exc.__context__ or exc.__cause__
    detail = str(inner) if inner is not None else str(exc).rpartition("Error: ")[2]
    return f"the input does not fit the model's input schema: {detail}"


def _unreachable_server(exc: BaseException) -> str | None:
    """A refused or timed-out HTTP connection (requests), as raised directly or wrapped by MLflow."""
    requests_errors = sys.modules.get("requests.exceptions")
    if requests_errors is None:
        return None
    failed = next(
        (e for e in _chain(exc) if isinstance(e, (requests_errors.ConnectionError, requests_errors.Timeout))),
        None,
    )
    if failed is None:
        return None
    request = getattr(failed, "request", None)
    parts = urlsplit(getattr(request, "url", None) or "")
    server = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the server"
    reason = _ERRNO.sub("", str(list(_chain(failed))[-1]))
    if any(_is_mlflow_error(e) for e in _chain(exc)):
        return (
            f"MLflow tracking server {server} is not reachable ({reason}): start it, or point "
            "MLOPS_TRACKING_URI (or MLFLOW_TRACKING_URI) at one that runs"
        )
    return f"{server} is not reachable ({reason})"


def _s3_endpoint() -> str:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return endpoint or "(the AWS default for the region)"


def _s3_failure(exc: BaseException) -> str | None:
    """An error answered by (or on the way to) S3 through pyarrow: an OSError saying ``AWS Error <CODE>``."""
    if not isinstance(exc, OSError) or _AWS_ERROR not in str(exc):
        return None
    endpoint = _s3_endpoint()
    if "NETWORK_CONNECTION" in str(exc):
        return f"S3 endpoint {endpoint} is not reachable (check AWS_ENDPOINT_URL): {exc}"
    return f"S3 at {endpoint}: {exc}"


def _s3_artifacts_unreachable(exc: BaseException) -> str | None:
    """boto3 (MLflow's artifact store) could not connect to its S3 endpoint."""
    botocore_errors = sys.modules.get("botocore.exceptions")
    if botocore_errors is None or not isinstance(exc, botocore_errors.EndpointConnectionError):
        return None
    return f"S3 endpoint {exc.kwargs.get('endpoint_url', _s3_endpoint())} is not reachable: {exc}"
