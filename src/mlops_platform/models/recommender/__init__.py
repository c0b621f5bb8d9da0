"""The recommender: the next products for each customer, top-N with plain-language reasons.

One module per step:

- ``interactions``: ids, the weighted interaction matrix, user and item feature matrices
  (and the adapters from the telco tables and the feature snapshot);
- ``candidates``: LightFM per loss, an ensemble of losses, vectorised top-K, candidate recall;
- ``coldstart``: content scores, segment popularity, the tenure schedule;
- ``context``: item attributes and per-customer history for the ranker;
- ``ranker``: the features of each (customer, candidate) pair and the XGBoost ranker;
- ``explain``: reasons from the ranker's feature contributions;
- ``model``: :class:`~mlops_platform.models.recommender.model.Recommender`, the fitted whole.
"""

from mlops_platform.models.recommender.model import Recommender, Stage, evaluate_recommendations, telco_stages

__all__ = ["Recommender", "Stage", "evaluate_recommendations", "telco_stages"]
