"""Fixtures of the container tests: the image that `make test-containers` built.

These tests need a running Docker engine and the image; `make test-containers` provides both
(scripts/containers.sh) and `make test` does not collect this folder. Every container runs with
``--network host``: it reaches the moto and MLflow servers of tests/conftest.py on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

IMAGE_ENV = "MLOPS_TEST_IMAGE"
DEFAULT_IMAGE = "mlops-platform:test"


@pytest.fixture(scope="session")
def mlops_image() -> str:
    """The tag of the image under test ($MLOPS_TEST_IMAGE or mlops-platform:test); ends the session if missing."""
    image = os.environ.get(IMAGE_ENV, DEFAULT_IMAGE)
    if shutil.which("docker") is None:
        pytest.exit("no docker client on PATH: run the container tests with `make test-containers`", returncode=1)
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        pytest.exit(
            f"image {image} is not available ({result.stderr.strip()}): "
            "build it with `make test-containers` (or `make image` with an engine running)",
            returncode=1,
        )
    return image
