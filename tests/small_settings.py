"""Settings overrides that let a small generated lake (100 days, a few hundred customers) carry
the DAGs end to end: short feature windows and label horizons, few training dates, small models."""

SMALL = {
    "MLOPS_FEATURES_ACTIVITY_WINDOW_DAYS": "28",
    "MLOPS_FEATURES_RFM_WINDOW_DAYS": "28",
    "MLOPS_FEATURES_ARPU_WINDOW_DAYS": "14",
    "MLOPS_FEATURES_USAGE_LONG_DAYS": "14",
    "MLOPS_LABELS_CHURN_HORIZON_DAYS": "14",
    "MLOPS_LABELS_REVENUE_HORIZON_DAYS": "14",
    "MLOPS_VALIDATION_MIN_HISTORY_DAYS": "42",
    "MLOPS_TRAINING_SETS_DATES": "2",
    "MLOPS_CHURN_PARAMS": "{n_estimators: 40, learning_rate: 0.1, max_depth: 3, early_stopping_rounds: 10,"
    " validation_share: 0.2, seed: 1}",
    "MLOPS_CONVERSION_PARAMS": "{n_estimators: 30, learning_rate: 0.1, num_leaves: 15,"
    " strategies: [none, class_weight], validation_share: 0.2, seed: 1}",
    "MLOPS_REVENUE_PARAMS": "{n_estimators: 30, learning_rate: 0.1, max_depth: 3, seed: 1}",
    "MLOPS_SEGMENTATION_PARAMS": "{k_min: 3, k_max: 4, pca_components: null, silhouette_sample: 1000, seed: 1}",
    "MLOPS_RECOMMENDER_CANDIDATES": "{losses: {warp: 1.0}, components: 16, epochs: 10, learning_rate: 0.05,"
    " item_alpha: 0.0, user_alpha: 0.0, max_sampled: 10, k_candidates: 20, half_life_days: 60, seed: 1}",
    "MLOPS_RECOMMENDER_RANKER": "{objective: rank:ndcg, n_estimators: 40, learning_rate: 0.1, max_depth: 3,"
    " min_child_weight: 1.0, subsample: 0.8, horizon_days: 14, candidate_weight: 0.0, seed: 1}",
    # A failed task fails the run at once instead of waiting for a retry.
    "MLOPS_TASKS_RETRIES": "0",
}
