-- Runs once, when the Postgres volume is first initialised (docker-entrypoint-initdb.d).
-- One database for the Airflow metadata, one for the MLflow tracking store; both owned by
-- the POSTGRES_USER from .env.
CREATE DATABASE airflow;
CREATE DATABASE mlflow;
