"""The ``kubernetes`` backend: KubernetesPodOperator running the training-task image."""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

from mlops_dags.defaults import run_environment, settings


class MlopsKubernetesPodOperator(KubernetesPodOperator):
    """Runs the training-task image in a pod: ``mlops COMMAND``; secrets come from a Kubernetes Secret."""

    ui_color = "#f3e8fa"

    def __init__(self, *, command: list[str], secret_name: str, secret_keys: list[str], **kwargs: Any) -> None:
        from airflow.providers.cncf.kubernetes.secret import Secret

        secrets = [Secret("env", key, secret_name, key) for key in secret_keys]
        kwargs.setdefault("name", "mlops-task")
        super().__init__(cmds=["mlops"], arguments=command, secrets=secrets, get_logs=True, **kwargs)

    def prepare_environment(self, context: Any) -> None:
        """Plain variables from the worker (never the secret ones) and the run identifiers."""
        from kubernetes.client import models as k8s

        from mlops_platform.orchestration.environment import task_environment

        env = task_environment(settings(), os.environ)
        plain = {**env.plain, **run_environment(context)}
        self.env_vars = [k8s.V1EnvVar(name=name, value=value) for name, value in plain.items()]

    def execute(self, context: Any) -> Any:
        self.prepare_environment(context)
        return super().execute(context)
