# MLflow tracking server with the Postgres driver and the S3 client it needs for a Postgres
# backend store and artifacts served from MinIO. Same MLflow version as uv.lock.
ARG MLFLOW_IMAGE=ghcr.io/mlflow/mlflow:v3.17.2
FROM ${MLFLOW_IMAGE}
RUN pip install --no-cache-dir psycopg2-binary boto3
