# syntax=docker/dockerfile:1
# The training-task image: the mlops_platform package and its pinned dependencies, with the
# `mlops` command as the entry point. Airflow is not installed here; Airflow starts this image
# (DockerOperator / KubernetesPodOperator) and passes the step as arguments, e.g.
#   docker run --rm mlops-platform features build --date 2025-06-30
#
# The build installs from ./wheelhouse only (no index access: pip inside containers here cannot
# verify TLS). Build the wheelhouse on the host first with `make wheelhouse`, which runs
# `pip wheel` on the runtime requirements exported from uv.lock (into wheelhouse/) and on the
# package itself (into wheelhouse/project/). The build stage makes the venv of the dependencies;
# the runtime stage copies it and adds the package, so a code change rebuilds only that last
# small layer, not the copy of the venv.
#
# BASE_IMAGE is any Debian-like image with `python3` (3.11) and its venv module: python:3.11-slim
# by default, or the debootstrap image that `make test-containers` builds without a registry.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY wheelhouse/requirements.txt wheelhouse/*.whl /wheelhouse/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --find-links /wheelhouse -r /wheelhouse/requirements.txt \
    && /opt/venv/bin/python -m compileall -q /opt/venv

FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MLOPS_CONFIG_DIR=/app/config \
    MLOPS_EXECUTION_BACKEND=container \
    GIT_PYTHON_REFRESH=quiet
# lightgbm and xgboost load the OpenMP runtime (libgomp1): apt installs it if the base lacks it.
# The user's home is writable (matplotlib and MLflow keep caches there); /app is not.
RUN if ! ldconfig -p | grep -q 'libgomp\.so\.1'; then \
        apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 mlops \
    && useradd --system --uid 10001 --gid mlops --create-home --home-dir /home/mlops --shell /usr/sbin/nologin mlops
COPY --from=build /opt/venv /opt/venv
COPY wheelhouse/project/ /tmp/project/
RUN pip install --no-index --no-deps /tmp/project/*.whl \
    && pip check \
    && python -m compileall -q /opt/venv/lib/python3*/site-packages/mlops_platform \
    && rm -rf /tmp/project
WORKDIR /app
COPY --chown=mlops:mlops config/ /app/config/
USER mlops
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["mlops", "--version"]
ENTRYPOINT ["mlops"]
CMD ["--help"]
