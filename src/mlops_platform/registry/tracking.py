"""MLflow tracking: the client, runs that end FINISHED or FAILED, batched logging, model versions.

A run logs params, metrics (model and baseline, in one batch), the feature list, the
training-set manifest, the drift reference sample, the data window, the code version, the
plots and tables, and the model as a pyfunc with signature, input example and explicit pip
requirements (no requirement inference). Registration is keyed by ``run_key``: a second
training with the same key reuses the version already registered under it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel

from mlops_platform import __version__
from mlops_platform.config import TrackingSettings

_logger = logging.getLogger(__name__)

# Runtime requirements of a logged model (pinned to what is installed when it is logged).
_MODEL_REQUIREMENTS = (
    "mlflow",
    "pandas",
    "numpy",
    "scikit-learn",
    "xgboost",
    "lightgbm",
    "imbalanced-learn",
    "cloudpickle",
    "pyarrow",
    "scipy",
    "rectools-lightfm",
)


@dataclass(frozen=True)
class LoggedVersion:
    """The registered version a training produced (or reused)."""

    name: str
    version: str
    run_id: str
    reused: bool


def client_for(tracking: TrackingSettings) -> tuple[MlflowClient, str]:
    """Point MLflow at the configured store and return a client and the experiment id."""
    mlflow.set_tracking_uri(tracking.uri)
    client = MlflowClient(tracking_uri=tracking.uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    if experiment is not None:
        return client, experiment.experiment_id
    location: str | None = tracking.artifact_location
    if location is not None and "://" not in location and ":/" not in location:
        if tracking.uri.startswith(("http://", "https://")):
            # A tracking server stores artifacts itself (proxied: mlflow-artifacts:/), so every
            # client, in a container or not, needs only the tracking URI; a local path would
            # exist on this machine only.
            location = None
        else:
            location = Path(location).expanduser().resolve().as_uri()
    try:
        return client, client.create_experiment(tracking.experiment, artifact_location=location)
    except MlflowException as exc:  # another process created it meanwhile
        created = client.get_experiment_by_name(tracking.experiment)
        if exc.error_code != "RESOURCE_ALREADY_EXISTS" or created is None:
            raise
        return client, created.experiment_id


@contextmanager
def mlflow_run(client: MlflowClient, experiment_id: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """Create a run and yield its id; it ends FINISHED, or FAILED when the block raises.

    The one way the platform opens a run (training, drift checks, re-evaluation), so no run is
    left RUNNING by an error.
    """
    run_id = client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
    try:
        yield run_id
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


def code_version() -> str:
    """The git commit of the working tree, ``$MLOPS_CODE_VERSION``, or the package version."""
    if os.environ.get("MLOPS_CODE_VERSION"):
        return os.environ["MLOPS_CODE_VERSION"]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        return f"{__version__}+g{sha}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def pip_requirements() -> list[str]:
    """Explicit, pinned requirements of a logged model."""
    pins = []
    for dist in _MODEL_REQUIREMENTS:
        try:
            pins.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def _flatten(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(f"{name}.", value))
        else:
            flat[name] = str(value)[:6000]
    return flat


def log_batch(
    client: MlflowClient, run_id: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str]
) -> None:
    """Log params, metrics and tags in one call (finite metrics only)."""
    stamp = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v == v and abs(v) != float("inf")],
        params=[Param(k, v) for k, v in _flatten("", params).items()],
        tags=[RunTag(k, str(v)) for k, v in tags.items()],
    )


def log_artifacts(
    run_id: str, files: dict[str, bytes], figures: dict[str, Any], tables: dict[str, pd.DataFrame]
) -> None:
    """Write files, PNG figures and CSV tables into the run's artifacts."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        if figures:
            (root / "plots").mkdir(exist_ok=True)
            for name, figure in figures.items():
                # The figures use constrained layout, so nothing is clipped; bbox_inches="tight"
                # would draw every figure twice (about 0.5 s per training for five plots).
                figure.savefig(root / "plots" / f"{name}.png", dpi=90)
        if tables:
            (root / "tables").mkdir(exist_ok=True)
            for name, table in tables.items():
                table.to_csv(root / "tables" / f"{name}.csv", index=True)
        mlflow.MlflowClient().log_artifacts(run_id, str(root))


def log_model_version(
    client: MlflowClient,
    run_id: str,
    name: str,
    python_model: PythonModel,
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    version_tags: dict[str, str],
    signature: ModelSignature | None = None,
) -> str:
    """Log the pyfunc in ``run_id``, register it under ``name`` and return the new version.

    The signature is inferred from the examples unless one is given.
    """
    signature = signature or infer_signature(input_example, output_example)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements(),
        )
    # Leaving start_run ended the run FINISHED; it ends with the training (tracking.mlflow_run).
    client.update_run(run_id, status="RUNNING")
    # A tracking server accepts a models:/ source only with the id of the logged model it names.
    version = client.create_model_version(
        name,
        info.model_uri,
        run_id=run_id,
        tags=version_tags,
        description=version_tags.get("summary"),
        model_id=info.model_id,
    )
    return str(version.version)


def ensure_registered_model(client: MlflowClient, name: str, description: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(name, description=description)
        except MlflowException as exc:  # another process created it meanwhile
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def training_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    """The model metrics a training run logged (its ``baseline_*`` metrics left out)."""
    if not run_id:
        return {}
    try:
        logged = client.get_run(run_id).data.metrics
    except MlflowException:
        _logger.warning("training run %s cannot be read", run_id)
        return {}
    return {k: float(v) for k, v in logged.items() if not k.startswith("baseline_")}
