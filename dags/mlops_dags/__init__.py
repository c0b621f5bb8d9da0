"""Airflow glue shared by the DAG files: the task runner, default arguments, callbacks, assets.

Parse-time hygiene: importing this package reads ``config/orchestration.yaml`` and nothing else
(no database query, no connection lookup, no numpy/pandas); the heavy libraries are imported
inside the tasks.
"""
