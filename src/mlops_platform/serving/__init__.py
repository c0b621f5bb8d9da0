"""Online serving: ``mlops serve``, an ASGI service over the champions of the zoo and the recommender.

- :mod:`~mlops_platform.serving.settings`: what the service serves and its limits;
- :mod:`~mlops_platform.serving.tables`: a (version, snapshot) pair scored once into columnar arrays;
- :mod:`~mlops_platform.serving.loading`: resolving champions and the newest snapshot, loading beside;
- :mod:`~mlops_platform.serving.swap`: the poller and the notification that swap the served state;
- :mod:`~mlops_platform.serving.predlog`: the prediction log, flushed in batches off the request path;
- :mod:`~mlops_platform.serving.metrics`: the Prometheus metrics;
- :mod:`~mlops_platform.serving.inputs`: request parsing with errors that name the field;
- :mod:`~mlops_platform.serving.batcher`: ``/predict`` on given rows, batched while a call runs;
- :mod:`~mlops_platform.serving.app`: the Starlette app and its routes; ``server`` runs it on uvicorn.

Requests never touch MLflow, pandas or a pyfunc for lookups: every answer of the scores and
recommendations endpoints is computed when a pair is loaded, in one batch call through the code
path ``mlops score`` uses, so a request is a dict lookup and a JSON encoding.
"""
