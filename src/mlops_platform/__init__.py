"""mlops_platform: keeps a zoo of customer models fresh on a parquet lake, MLflow and Airflow."""

__version__ = "0.1.0"
