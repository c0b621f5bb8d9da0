"""What the DAGs ask of the library, without Airflow: task environments, run plans, summaries.

The Airflow glue (operators, callbacks) lives in ``dags/mlops_dags``; nothing here imports Airflow.
"""
