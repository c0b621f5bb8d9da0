"""The service's Prometheus metrics, in a registry of its own (no process-wide state).

- ``mlops_serving_requests_total{route, status}``: answered requests;
- ``mlops_serving_request_seconds{route}``: latency, buckets at 1, 2, 5, 10, 25 and 50 ms;
- ``mlops_serving_errors_total{route, kind}``: answers of 4xx/5xx by kind (``not_found``, ``invalid`` ...);
- ``mlops_serving_model_version{model}``: the version served per model;
- ``mlops_serving_load_failures_total{model}``: versions or snapshots that failed to load;
- ``mlops_serving_swaps_total{model}``: pairs swapped in;
- ``mlops_serving_predictions_logged_total`` / ``..._log_pending``: the prediction log.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServingMetrics:
    """The metrics of one service instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("mlops_serving_requests", "Answered requests", ["route", "status"], registry=r)
        self.latency = Histogram(
            "mlops_serving_request_seconds", "Request latency", ["route"], buckets=BUCKETS, registry=r
        )
        self.errors = Counter("mlops_serving_errors", "Error answers by kind", ["route", "kind"], registry=r)
        self.version = Gauge("mlops_serving_model_version", "Version served per model", ["model"], registry=r)
        self.load_failures = Counter(
            "mlops_serving_load_failures", "Versions or snapshots that failed to load", ["model"], registry=r
        )
        self.swaps = Counter("mlops_serving_swaps", "Pairs swapped in", ["model"], registry=r)
        self.logged = Counter("mlops_serving_predictions_logged", "Prediction log rows written", registry=r)
        self.pending = Gauge("mlops_serving_prediction_log_pending", "Prediction log rows not yet written", registry=r)
        self._children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, status: int, seconds: float, kind: str | None = None) -> None:
        """Count one answer of ``route`` and its latency (and the error ``kind``, if any)."""
        pair = self._children.get((route, status))
        if pair is None:
            pair = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._children[(route, status)] = pair
        pair[0].inc()
        pair[1].observe(seconds)
        if kind is not None:
            self.errors.labels(route, kind).inc()

    def served(self, model: str, version: str) -> None:
        """Record that ``model`` now serves ``version``."""
        self.swaps.labels(model).inc()
        try:
            self.version.labels(model).set(float(version))
        except ValueError:
            self.version.labels(model).set(-1)

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
