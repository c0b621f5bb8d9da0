"""The ``docker`` backend: DockerOperator running the training-task image (host network)."""

from __future__ import annotations

import os
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator

from mlops_dags.defaults import run_environment, settings


class MlopsDockerOperator(DockerOperator):
    """Runs the training-task image with ``COMMAND`` as the arguments of its ``mlops`` entry point."""

    ui_color = "#e3eefa"

    def __init__(self, *, command: list[str], image: str, docker_url: str, network_mode: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_remove", "success")
        super().__init__(
            image=image,
            command=command,
            docker_url=docker_url,
            network_mode=network_mode,
            mount_tmp_dir=False,
            do_xcom_push=False,
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        from mlops_platform.orchestration.environment import task_environment

        env = task_environment(settings(), os.environ)
        self.environment = {**env.plain, **run_environment(context)}
        self._private_environment = env.secret
        self.log.info("mlops %s in %s (environment: %s)", " ".join(self.command), self.image, sorted(self.environment))
        return super().execute(context)
