"""What is served: the champions' versions and the newest committed snapshot, loaded beside the old.

:meth:`Loader.refresh` resolves every configured model's champion (read-only: it never writes to
the registry) and the newest snapshot date, loads and warms only the pairs that changed, and
returns a new :class:`State`; the caller swaps one reference. A pair that fails to load keeps
the old one served; the failure is logged, counted and shown by ``/v1/models``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from mlflow import MlflowClient

from mlops_platform import registry
from mlops_platform.features.snapshot import DATASET as FEATURES_DATASET
from mlops_platform.features.snapshot import snapshot_partition
from mlops_platform.models.pyfunc import unwrap
from mlops_platform.serving.metrics import ServingMetrics
from mlops_platform.serving.settings import ServeSettings
from mlops_platform.serving.tables import RecommendationTable, ScoreTable, recommendation_table, score_table
from mlops_platform.storage import ObjectStore

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """One consistent view of everything served; replaced whole, never changed in place."""

    scores: dict[str, ScoreTable] = field(default_factory=dict)
    recommendations: RecommendationTable | None = None
    failures: dict[str, str] = field(default_factory=dict)

    def ready(self, settings: ServeSettings) -> list[str]:
        """The configured models not loaded yet (empty: ready)."""
        missing = [name for name in settings.models if name not in self.scores]
        if settings.recommender and self.recommendations is None:
            missing.append(settings.recommender)
        return missing

    def describe(self) -> list[dict[str, Any]]:
        """What ``/v1/models`` shows: name, alias, version, loaded at, snapshot date."""
        rows = [
            {
                "name": t.model,
                "alias": registry.CHAMPION,
                "version": t.version,
                "loaded_at": t.loaded_at,
                "snapshot_date": t.snapshot_date.isoformat() if t.snapshot_date else None,
                "kind": "scores",
                "last_error": self.failures.get(t.model),
            }
            for t in self.scores.values()
        ]
        if self.recommendations is not None:
            r = self.recommendations
            rows.append(
                {
                    "name": r.model,
                    "alias": registry.CHAMPION,
                    "version": r.version,
                    "loaded_at": r.loaded_at,
                    "snapshot_date": None,
                    "kind": "recommendations",
                    "last_error": self.failures.get(r.model),
                }
            )
        return rows


def load_pyfunc(name: str, version: str) -> Any:
    """The pyfunc of one pinned version (never the alias: it may move while loading)."""
    import mlflow

    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


class Loader:
    """Builds new :class:`State` values from the registry and the lake.

    Args:
        client: the MLflow client.
        store: the lake.
        settings: what to serve.
        metrics: where load failures and swaps are counted.
        load: loads a pinned version's pyfunc (a seam for tests).
    """

    def __init__(
        self,
        client: MlflowClient,
        store: ObjectStore,
        settings: ServeSettings,
        metrics: ServingMetrics,
        load: Callable[[str, str], Any] = load_pyfunc,
    ) -> None:
        self.client, self.store, self.settings, self.metrics, self.load = client, store, settings, metrics, load

    def champion(self, name: str) -> str | None:
        found = registry.version_by_alias(self.client, name, registry.CHAMPION)
        return None if found is None else str(found.version)

    def newest_snapshot(self) -> dt.date | None:
        dates = self.store.list_dates(FEATURES_DATASET)
        return dates[-1] if dates else None

    def refresh(self, current: State) -> State:
        """A new state with every changed pair loaded and warmed (``current`` where nothing changed)."""
        failures = dict(current.failures)
        day = self._safely("snapshot", failures, self.newest_snapshot)
        snapshot: list[pa.Table] = []  # read at most once per refresh
        scores = dict(current.scores)
        for name in self.settings.models:
            step = functools.partial(self._score, name, day, current.scores.get(name), snapshot)
            table = self._safely(name, failures, step)
            if table is not None:
                scores[name] = table
        recommendations = current.recommendations
        if self.settings.recommender:
            name = self.settings.recommender
            loaded = self._safely(name, failures, lambda: self._recommend(name, current.recommendations))
            recommendations = loaded or recommendations
        return State(scores, recommendations, failures)

    def _safely(self, name: str, failures: dict[str, str], step: Callable[[], Any]) -> Any:
        """``step()``, or None after logging and counting its failure (the old pair stays)."""
        try:
            result = step()
        except Exception as exc:  # noqa: BLE001 - a failed load must never stop the service
            message = f"{type(exc).__name__}: {exc}"
            _logger.error("serving: %s failed to load, keeping what is served: %s", name, message)
            self.metrics.load_failures.labels(name).inc()
            failures[name] = message
            return None
        failures.pop(name, None)
        return result

    def _score(self, name: str, day: dt.date | None, old: ScoreTable | None, snapshot: list[pa.Table]) -> ScoreTable:
        version = self.champion(name)
        if version is None:
            raise LookupError(f"model {name!r} has no champion")
        if day is None:
            raise LookupError(f"no feature snapshot in {self.store.url(FEATURES_DATASET)}")
        if old is not None and old.version == version and old.snapshot_date == day:
            return old
        if not snapshot:
            snapshot.append(self.store.read_partition(snapshot_partition(day)))
        loaded = self.load(name, version)
        table = score_table(name, version, loaded, unwrap(loaded), snapshot[0], day)
        self._announce(name, version, old.version if old else None, day)
        return table

    def _recommend(self, name: str, old: RecommendationTable | None) -> RecommendationTable:
        version = self.champion(name)
        if version is None:
            raise LookupError(f"model {name!r} has no champion")
        if old is not None and old.version == version:
            return old
        loaded = self.load(name, version)
        table = recommendation_table(name, version, loaded, self.settings.top_n, self.settings.exact_reasons)
        self._announce(name, version, old.version if old else None, None)
        return table

    def _announce(self, name: str, version: str, before: str | None, day: dt.date | None) -> None:
        self.metrics.served(name, version)
        on = f" on the snapshot of {day}" if day else ""
        _logger.info("serving: %s v%s loaded%s (was %s)", name, version, on, before or "nothing")
