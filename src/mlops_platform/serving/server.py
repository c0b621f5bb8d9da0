"""Build the service from settings and run it on uvicorn (SIGTERM: a graceful stop and a last flush)."""

from __future__ import annotations

import logging

from mlflow import MlflowClient

from mlops_platform.serving.app import Service, create_app
from mlops_platform.serving.loading import Loader
from mlops_platform.serving.metrics import ServingMetrics
from mlops_platform.serving.predlog import PredictionLog
from mlops_platform.serving.settings import ServeSettings
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)


def build_service(client: MlflowClient, store: ObjectStore, settings: ServeSettings) -> Service:
    """The service over ``client`` (the registry) and ``store`` (the lake), nothing loaded yet."""
    metrics = ServingMetrics()
    loader = Loader(client, store, settings, metrics)
    return Service(settings, loader, PredictionLog(store, metrics, settings.flush_seconds), metrics)


def run(service: Service) -> None:
    """Serve until SIGTERM or Ctrl-C; uvicorn finishes the requests in flight, then the log is flushed."""
    import uvicorn

    settings = service.settings
    config = uvicorn.Config(
        create_app(service),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        # Longer than the idle time-outs of common proxies and load balancers (60 s), so a client
        # never sends on a connection the server is closing at that instant.
        timeout_keep_alive=75,
        lifespan="on",
    )
    uvicorn.Server(config).run()
