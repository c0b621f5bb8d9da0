"""The steps of the platform, one module each: read what a step needs, call the layers below, write.

This is the only layer that combines the lake (:mod:`mlops_platform.storage`) with MLflow
(:mod:`mlops_platform.registry`). Each CLI command calls one function here.
"""
