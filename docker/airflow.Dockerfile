# Airflow 3 with the mlops_platform package, so the DAG files (dags/) can read config/ and the
# in-worker tasks (plans, drift decisions, summaries) can open the lake and the registry. The
# heavy steps still run in the training-task image (the repo's Dockerfile) through the docker
# backend. Build context: the repo root, after `make wheelhouse`.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2
FROM ${AIRFLOW_IMAGE}
COPY wheelhouse/ /tmp/wheelhouse/
# The Docker and Kubernetes providers ship with the apache/airflow image.
RUN pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse --find-links /tmp/wheelhouse/project \
    mlops-platform
