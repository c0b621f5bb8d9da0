"""LightFM candidate generation: one model per loss, an ensemble of losses, vectorised top-K.

Scores come from the learned representations, not from ``LightFM.predict``: a user's score of
every item is ``user_embedding @ item_embeddings.T + user_bias + item_bias``, one matrix product
per batch of users (``get_user_representations`` / ``get_item_representations``), the same
numbers ``predict`` gives one call per user. ``warp-kos`` has no sample weights in LightFM: it
trains on the unweighted interactions and says so in ``notes_``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM

from mlops_platform.errors import InputError
from mlops_platform.evaluation.ranking import recall_at_k

_logger = logging.getLogger(__name__)

LOSSES = ("warp", "bpr", "warp-kos")
# Users scored per matrix product: bounds memory to batch x items floats.
BATCH_USERS = 16_384


class CandidateModel:
    """One LightFM model, scikit-learn style: parameters in ``__init__``, learned state in ``*_``."""

    def __init__(
        self,
        loss: str = "warp",
        components: int = 32,
        epochs: int = 30,
        learning_rate: float = 0.05,
        item_alpha: float = 0.0,
        user_alpha: float = 0.0,
        max_sampled: int = 10,
        seed: int = 42,
        num_threads: int = 1,
    ) -> None:
        if loss not in LOSSES:
            raise InputError(f"unknown LightFM loss {loss!r}; known: {', '.join(LOSSES)}")
        self.loss = loss
        self.components = components
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.max_sampled = max_sampled
        self.seed = seed
        self.num_threads = num_threads

    def fit(
        self,
        interactions: sp.coo_matrix,
        weights: sp.coo_matrix | None = None,
        user_features: sp.csr_matrix | None = None,
        item_features: sp.csr_matrix | None = None,
    ) -> Self:
        """Train on ``interactions`` (users x items), weighted by ``weights`` where the loss allows.

        Returns:
            ``self``, with ``model_``, ``weighted_``, ``notes_`` and the item representations.
        """
        self.notes_: list[str] = []
        if weights is not None and self.loss == "warp-kos":
            note = "warp-kos: LightFM has no sample weights for k-OS; trained on unweighted interactions"
            _logger.info(note)
            self.notes_.append(note)
            weights = None
        # k-OS scales its update by log(floor((items - 1) / sampled)): more samples than items - 1
        # give log(0) and the model diverges, so small catalogues sample at most items - 1.
        self.max_sampled_ = max(1, min(self.max_sampled, interactions.shape[1] - 1))
        self.model_ = LightFM(
            no_components=self.components,
            loss=self.loss,
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            max_sampled=self.max_sampled_,
            random_state=np.random.RandomState(self.seed),
        )
        self.model_.fit(
            interactions,
            user_features=user_features,
            item_features=item_features,
            sample_weight=weights,
            epochs=self.epochs,
            num_threads=self.num_threads,
        )
        self.weighted_ = weights is not None
        self.item_features_ = item_features
        biases, embeddings = self.model_.get_item_representations(item_features)
        self.item_biases_ = biases.astype(np.float32)
        self.item_embeddings_ = embeddings.astype(np.float32)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet: call fit() first")

    def scores(self, user_features: sp.csr_matrix | None = None, users: np.ndarray | None = None) -> np.ndarray:
        """Scores of every item for each row of ``user_features`` (or the fitted users ``users``).

        Args:
            user_features: rows in the fitted user feature space; None: the identity features,
                with ``users`` naming the rows (all users when None too).

        Returns:
            A float32 array (rows x items), equal to ``LightFM.predict`` of each pair.
        """
        self._check_fitted()
        if user_features is None:
            n_users = self.model_.user_embeddings.shape[0]
            rows = np.arange(n_users) if users is None else np.asarray(users)
            user_features = sp.identity(n_users, dtype=np.float32, format="csr")[rows]
        biases, embeddings = self.model_.get_user_representations(user_features)
        out = embeddings.astype(np.float32) @ self.item_embeddings_.T
        out += biases.astype(np.float32)[:, None]
        out += self.item_biases_[None, :]
        return out


class CandidateEnsemble:
    """LightFM models of several losses; the score is the weighted sum of row-standardised scores."""

    def __init__(self, losses: Mapping[str, float], **model_params: Any) -> None:
        if not losses or sum(losses.values()) <= 0 or min(losses.values()) < 0:
            raise InputError(f"ensemble weights must be non-negative with a positive sum, got {dict(losses)}")
        self.losses = dict(losses)
        self.model_params = model_params

    def fit(
        self,
        interactions: sp.coo_matrix,
        weights: sp.coo_matrix | None = None,
        user_features: sp.csr_matrix | None = None,
        item_features: sp.csr_matrix | None = None,
    ) -> Self:
        """Fit one :class:`CandidateModel` per loss of non-zero weight."""
        self.models_ = {
            loss: CandidateModel(loss=loss, **self.model_params).fit(
                interactions, weights, user_features, item_features
            )
            for loss, weight in self.losses.items()
            if weight > 0
        }
        self.notes_ = [note for model in self.models_.values() for note in model.notes_]
        return self

    def scores(self, user_features: sp.csr_matrix | None = None, users: np.ndarray | None = None) -> np.ndarray:
        """Weighted mean of each model's scores, standardised per row (per user)."""
        if not hasattr(self, "models_"):
            raise InputError("this CandidateEnsemble is not fitted yet: call fit() first")
        total = sum(self.losses[loss] for loss in self.models_)
        out: np.ndarray | None = None
        for loss, model in self.models_.items():
            part = standardise_rows(model.scores(user_features, users)) * np.float32(self.losses[loss] / total)
            out = part if out is None else out + part
        assert out is not None
        return out


def standardise_rows(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean over its standard deviation (a constant row becomes zeros)."""
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    return ((scores - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of every row, best first (ties: lower column first).

    Args:
        scores: rows x items.
        k: how many per row (at most the number of items).
        exclude: rows x items, non-zero where an item must not be returned.

    Returns:
        ``(items, values)``, both rows x k; an item is -1 (value ``-inf``) where a row ran out
        of items that are not excluded.
    """
    if k <= 0:
        raise InputError(f"k must be positive, got {k}")
    n, m = scores.shape
    k = min(k, m)
    values = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None and exclude.nnz:
        r, c = exclude.nonzero()
        values[r, c] = -np.inf
    part = np.argpartition(-values, k - 1, axis=1)[:, :k] if k < m else np.broadcast_to(np.arange(m), (n, m))
    picked = np.take_along_axis(values, part, axis=1)
    order = np.lexsort((part, -picked), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    best = np.take_along_axis(picked, order, axis=1)
    items[np.isneginf(best)] = -1
    return items, best


def batched_top_k(
    score: Callable[[np.ndarray], np.ndarray],
    n_rows: int,
    k: int,
    exclude: sp.csr_matrix | None = None,
    batch: int = BATCH_USERS,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` over ``score(rows)`` one batch of rows at a time (bounded memory)."""
    parts = [top_k(score(rows), k, None if exclude is None else exclude[rows]) for rows in _batches(n_rows, batch)]
    if not parts:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])


def _batches(n: int, size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        yield np.arange(start, min(start + size, n))


def candidate_recall(user_ids: np.ndarray, items: np.ndarray, item_ids: np.ndarray, labels: pd.DataFrame) -> float:
    """Share of each user's label-window items found among their candidates (mean over buyers).

    Args:
        user_ids: the user of each row of ``items``.
        items: users x K candidate item rows (-1: none).
        item_ids: the item id of each item row.
        labels: ``user_id, item_id`` bought in the label window; buyers without a row count as misses.
    """
    recs = {user: [item_ids[i] for i in row if i >= 0] for user, row in zip(user_ids, items, strict=True)}
    relevant = labels.groupby("user_id")["item_id"].agg(set).to_dict()
    return recall_at_k(recs, relevant, k=max(items.shape[1], 1))
