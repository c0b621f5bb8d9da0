"""Segmentation: behavioural segments with readable profiles (scaled features, K-Means).

Preparation, learned on the training rows: numeric features only (categorical ones are listed
in the notes and left out), gaps filled with the median, ``log1p`` applied to non-negative
features whose skewness exceeds ``skew_threshold`` (spend and usage are long-tailed; without it
a few heavy users would form their own clusters), then standardised; optionally PCA.

K-Means runs for every k in ``k_min..k_max`` (seeded) and keeps the k with the best silhouette,
computed on a seeded sample of at most ``silhouette_sample`` rows for speed. Each segment gets a
profile (size, share, mean of each feature in original units) and a name read off its centroid:
see ``segment_names`` in ``naming.py``.
"""

from __future__ import annotations

import logging
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from mlops_platform.errors import InputError
from mlops_platform.evaluation import plots
from mlops_platform.evaluation.metrics import clustering_metrics
from mlops_platform.models.base import CustomerModel, EvaluationResult, TrainingData, register_model
from mlops_platform.models.naming import segment_names

_logger = logging.getLogger(__name__)

DEFAULT_PARAMS: dict[str, Any] = {
    "k_min": 2,
    "k_max": 8,
    "pca_components": None,
    "skew_threshold": 1.0,
    "silhouette_sample": 3000,
    "n_init": 4,
    "max_iter": 300,
}


@register_model("segmentation")
class SegmentationModel(CustomerModel):
    """K-Means over scaled behavioural features, k chosen by silhouette."""

    name = "segmentation"
    task = "segmentation"
    default_params = DEFAULT_PARAMS
    primary_metric = "silhouette"

    def fit(self, data: TrainingData) -> Self:
        """Learn the preparation, choose k by silhouette and name the segments."""
        params = self.resolved_params()
        self._learn_schema(data)
        self.numeric_ = [name for name in self.features_ if name not in self.categories_]
        if not self.numeric_:
            raise InputError("segmentation: no numeric feature to cluster on")
        k_min, k_max = int(params["k_min"]), int(params["k_max"])
        if not 2 <= k_min <= k_max:
            raise InputError(f"segmentation: need 2 <= k_min <= k_max, got k_min={k_min}, k_max={k_max}")
        if len(data.frame) <= k_max:
            raise InputError(f"segmentation: {len(data.frame)} rows are too few for up to {k_max} segments")
        features = self.feature_frame(data.frame)[self.numeric_]
        scaled = self._learn_preparation(features, params)
        space = self._project(scaled)
        self.silhouette_by_k_ = {}
        models = {}
        for k in range(k_min, k_max + 1):
            models[k] = KMeans(k, n_init=params["n_init"], max_iter=params["max_iter"], random_state=self.seed)
            labels = models[k].fit_predict(space)
            sample = params["silhouette_sample"]
            self.silhouette_by_k_[k] = clustering_metrics(space, labels, sample, self.seed)["silhouette"]
        self.k_ = max(self.silhouette_by_k_, key=lambda k: np.nan_to_num(self.silhouette_by_k_[k], nan=-1.0))
        self.kmeans_ = models[self.k_]
        labels = self.kmeans_.labels_
        centroids = pd.DataFrame(scaled, columns=self.numeric_).groupby(labels).mean()
        self.segment_names_ = segment_names(centroids.reindex(range(self.k_)).fillna(0.0))
        self.profile_ = self._profile(features, labels)
        _logger.info("segmentation: k=%d, silhouette by k %s", self.k_, self.silhouette_by_k_)
        return self

    def _learn_preparation(self, features: pd.DataFrame, params: dict[str, Any]) -> np.ndarray:
        """Fit medians, the log1p choice and the scaler; return the scaled training matrix."""
        self.medians_ = features.median().fillna(0.0)
        filled = features.fillna(self.medians_)
        skewed = (filled.min() >= 0) & (filled.skew().fillna(0.0) > float(params["skew_threshold"]))
        self.log_columns_ = [name for name in self.numeric_ if skewed[name]]
        self.scaler_ = StandardScaler().fit(self._transform(filled))
        self.pca_ = None
        scaled = self.scaler_.transform(self._transform(filled))
        if params["pca_components"]:
            self.pca_ = PCA(n_components=params["pca_components"], random_state=self.seed).fit(scaled)
        return scaled

    def _transform(self, filled: pd.DataFrame) -> pd.DataFrame:
        logged = filled.copy()
        for name in self.log_columns_:
            logged[name] = np.log1p(logged[name].clip(lower=0.0))
        return logged

    def _scaled(self, features: pd.DataFrame) -> np.ndarray:
        """Median-filled, log1p where learned, standardised."""
        return self.scaler_.transform(self._transform(features[self.numeric_].fillna(self.medians_)))

    def _project(self, scaled: np.ndarray) -> np.ndarray:
        return self.pca_.transform(scaled) if self.pca_ is not None else scaled

    def _profile(self, features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
        """Size, share and feature means of each segment, in original units."""
        means = features.groupby(labels).mean().reindex(range(self.k_))
        sizes = pd.Series(labels).value_counts().reindex(range(self.k_), fill_value=0)
        profile = pd.DataFrame(
            {
                "segment": range(self.k_),
                "segment_name": [self.segment_names_[k] for k in range(self.k_)],
                "size": sizes.to_numpy(),
                "share": (sizes / max(len(labels), 1)).to_numpy(),
            }
        )
        return pd.concat([profile, means.reset_index(drop=True)], axis=1)

    def _predict(self, features: pd.DataFrame) -> pd.DataFrame:
        segments = self.kmeans_.predict(self._project(self._scaled(features)))
        return pd.DataFrame({"segment": segments, "segment_name": [self.segment_names_[s] for s in segments]})

    def evaluate(self, holdout: TrainingData) -> EvaluationResult:
        """Silhouette and Davies-Bouldin of the holdout's segments, with the profiles."""
        self._check_fitted()
        space = self._project(self._scaled(self.feature_frame(holdout.frame)))
        segments = self.kmeans_.predict(space)
        params = self.resolved_params()
        metrics = clustering_metrics(space, segments, params["silhouette_sample"], self.seed)
        metrics.update({"k": float(self.k_), "n_rows": float(len(segments))})
        holdout_profile = self._profile(self.feature_frame(holdout.frame)[self.numeric_], segments)
        shares = holdout_profile.set_index("segment_name")["share"]
        ignored = [name for name in self.features_ if name in self.categories_]
        return EvaluationResult(
            metrics=metrics,
            figures={
                "segment_shares": plots.bar_figure(shares, "Segment shares (holdout)", "segment", "share"),
                "silhouette_by_k": plots.bar_figure(
                    pd.Series(self.silhouette_by_k_), "Silhouette by k (training)", "k", "silhouette"
                ),
            },
            tables={
                "profile": self.profile_,
                "holdout_profile": holdout_profile,
                "silhouette_by_k": pd.DataFrame(
                    {"k": list(self.silhouette_by_k_), "silhouette": list(self.silhouette_by_k_.values())}
                ),
            },
            notes=[
                f"k={self.k_} chosen by silhouette over k={min(self.silhouette_by_k_)}..{max(self.silhouette_by_k_)}",
                f"log1p applied to: {', '.join(self.log_columns_) or 'none'}",
                f"categorical features left out: {', '.join(ignored) or 'none'}",
                "no baseline: segmentation has no label to beat",
            ],
        )
