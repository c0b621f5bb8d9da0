"""The recommender's core on tiny hand-made interaction sets: top-K, exclusion, cold start, reasons, ranker."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from lightfm import LightFM

from mlops_platform.config import CONFIG_DIR_ENV, RecommenderSettings, load_models_settings
from mlops_platform.models.recommender import interactions as ia
from mlops_platform.models.recommender.candidates import CandidateEnsemble, CandidateModel, candidate_recall, top_k
from mlops_platform.models.recommender.coldstart import PopularityTable, collaborative_share
from mlops_platform.models.recommender.context import History, ItemTable
from mlops_platform.models.recommender.explain import FALLBACK, reasons
from mlops_platform.models.recommender.model import Recommender, Stage, telco_stages
from mlops_platform.models.recommender.ranker import FEATURES, Ranker

DAY0 = pd.Timestamp("2025-03-01")
SCHEDULE = [(7, 0.0), (30, 0.3), (None, 1.0)]

# 4 customers x 5 products: customers 10 and 11 buy data packs (1, 2), 12 and 13 voice packs (4, 5).
TINY = pd.DataFrame(
    [(10, 1), (10, 2), (11, 1), (11, 3), (12, 4), (12, 5), (13, 4), (13, 3)], columns=["user_id", "item_id"]
)


def settings(**changes: object) -> RecommenderSettings:
    """Small, fast settings, independent of the values tuned in config/models.yaml."""
    data = {
        "candidates": {
            "losses": {"warp": 1.0},
            "components": 4,
            "epochs": 20,
            "learning_rate": 0.05,
            "item_alpha": 0.0,
            "user_alpha": 0.0,
            "max_sampled": 10,
            "k_candidates": 4,
            "half_life_days": 60,
            "seed": 7,
        },
        "ranker": {
            "objective": "rank:ndcg",
            "n_estimators": 20,
            "learning_rate": 0.3,
            "max_depth": 3,
            "min_child_weight": 0.0,
            "subsample": 1.0,
            "horizon_days": 30,
            "candidate_weight": 0.0,
            "seed": 7,
        },
        "cold_start": {
            "popularity_blend": 0.5,
            "popularity_days": None,
            "tenure_schedule": [{"until_day": d, "collaborative": s} for d, s in SCHEDULE],
        },
        "top_n": 3,
        "reasons": 2,
        "exclude_purchased": False,
        "gate": {"metric": "ndcg_at_5", "margin": 0.0, "floors": {}},
        "targets": {"ndcg_at_5": ">= 0.75"},
    }
    data.update(changes)
    return RecommenderSettings.model_validate(data)


def events(pairs: pd.DataFrame, day: pd.Timestamp = DAY0) -> pd.DataFrame:
    return pairs.assign(ts=day, quantity=1.0)


def tiny_matrices() -> tuple[ia.IdMap, ia.IdMap, ia.Interactions, sp.csr_matrix, sp.csr_matrix]:
    users, items = ia.IdMap.fit(TINY["user_id"]), ia.IdMap.fit([1, 2, 3, 4, 5])
    found = ia.build_interactions(events(TINY), users, items, half_life_days=30)
    user_tokens = pd.DataFrame({"id": [10, 11, 12, 13], "token": ["seg:a", "seg:a", "seg:b", "seg:b"]})
    item_tokens = pd.DataFrame({"id": [1, 2, 3, 4, 5], "token": ["cat:data"] * 3 + ["cat:voice"] * 2})
    user_f = ia.FeatureSpace.fit(users, user_tokens).matrix(users.ids, user_tokens)
    item_f = ia.FeatureSpace.fit(items, item_tokens).matrix(items.ids, item_tokens)
    return users, items, found, user_f, item_f


# -- interactions ---------------------------------------------------------------------------------


def test_id_map_is_sorted_and_unknown_ids_map_to_minus_one():
    ids = ia.IdMap.fit([30, 10, 20, 10])
    assert ids.ids.tolist() == [10, 20, 30]
    assert ids.index([20, 99, "x", None, 30]).tolist() == [1, -1, -1, -1, 2]
    text = ia.IdMap.fit(["b", "a"])
    assert text.index(["b", None, 3, "zz"]).tolist() == [1, -1, -1, -1]


def test_interaction_weight_adds_count_and_recency():
    # user 1: one purchase today -> log2(1 + 1) = 1; user 2: today and one half-life ago -> log2(1 + 1.5)
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 2],
            "item_id": [7, 7, 7],
            "ts": [DAY0, DAY0, DAY0 - pd.Timedelta(days=10)],
            "quantity": [1.0, 1.0, 1.0],
        }
    )
    found = ia.build_interactions(frame, ia.IdMap.fit([1, 2]), ia.IdMap.fit([7]), half_life_days=10, as_of=DAY0)
    assert found.matrix.toarray().tolist() == [[1.0], [1.0]]
    assert found.weights.toarray().ravel() == pytest.approx([1.0, math.log2(2.5)])


def test_events_after_the_cut_off_are_left_out():
    frame = events(TINY).assign(ts=[DAY0 + pd.Timedelta(days=d) for d in range(len(TINY))])
    kept = ia.events_before(frame, DAY0 + pd.Timedelta(days=3))
    assert kept["ts"].max() == DAY0 + pd.Timedelta(days=2)
    assert len(kept) == 3


def test_feature_rows_hold_identity_and_tokens_normalised():
    users = ia.IdMap.fit([10, 11])
    tokens = pd.DataFrame({"id": [10, 10, 11, 99], "token": ["a", "b", "a", "a"]})
    space = ia.FeatureSpace.fit(users, tokens)
    # columns: 10, 11 (identity), then tokens a, b; row order follows the ids asked for
    rows = space.matrix([11, 10, 99, 98], tokens).toarray()
    assert rows[0] == pytest.approx([0, 1 / 2, 1 / 2, 0])
    assert rows[1] == pytest.approx([1 / 3, 0, 1 / 3, 1 / 3])
    assert rows[2] == pytest.approx([0, 0, 1, 0])  # unknown id with a token: the token alone
    assert rows[3] == pytest.approx([0, 0, 0, 0])  # unknown id, no token: empty row
    assert space.matrix([10], tokens, identity=False).toarray()[0] == pytest.approx([0, 0, 1 / 2, 1 / 2])


def test_ranker_only_tokens_stay_out_of_lightfm():
    users = ia.IdMap.fit([10, 11])
    tokens = pd.DataFrame({"id": [10, 11, 11], "token": ["a", "b", "secret"], "ranker_only": [False, None, True]})
    space = ia.FeatureSpace.fit(users, tokens)
    assert space.tokens.tolist() == ["a", "b"]
    assert space.matrix([11], tokens).toarray()[0] == pytest.approx([0, 1 / 2, 0, 1 / 2])


def test_telco_tokens_band_usage_tenure_price_and_data():
    snapshot = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "segment": ["business", None],
            "arpu_bucket": ["low", "high"],
            "usage_7d_data_mb": [0.0, 6000.0],
            "usage_7d_voice_min": [45.0, np.nan],
            "tenure_days": [7, 31],
        }
    )
    tokens = ia.telco_user_tokens(snapshot).groupby("id")["token"].agg(set)
    assert tokens[1] == {"segment:business", "arpu:low", "data_use:none", "voice_use:medium", "tenure:0-7"}
    assert tokens[2] == {"segment:unknown", "arpu:high", "data_use:heavy", "voice_use:unknown", "tenure:31-90"}
    products = pd.DataFrame(
        {"product_id": [5], "category": ["combo"], "price_idr": [60_000.0], "validity_days": [30], "data_mb": [8192.0]}
    )
    assert set(ia.telco_item_tokens(products)["token"]) == {
        "category:combo",
        "price:plus",
        "data:medium",
        "validity:30d",
    }


# -- candidates -------------------------------------------------------------------------------------


def test_vectorised_top_k_equals_lightfm_predict_for_every_user():
    users, items, found, user_f, item_f = tiny_matrices()
    model = CandidateModel(loss="warp", components=4, epochs=10, seed=3).fit(
        found.matrix, found.weights, user_f, item_f
    )
    scores = model.scores(user_f)
    ranked, _ = top_k(scores, k=5)
    every_item = np.arange(len(items), dtype=np.int32)
    for row in range(len(users)):
        expected = model.model_.predict(row, every_item, item_features=item_f, user_features=user_f)
        assert scores[row] == pytest.approx(expected, rel=1e-5, abs=1e-5)
        assert ranked[row].tolist() == np.argsort(-expected, kind="stable").tolist()


def test_top_k_excludes_already_bought_items_and_marks_exhausted_rows():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.2, 0.4, 0.3, 0.1]], dtype=np.float32)
    bought = sp.csr_matrix(np.array([[1, 0, 0, 1], [1, 1, 1, 0]]))
    items, values = top_k(scores, k=2, exclude=bought)
    assert items.tolist() == [[2, 1], [3, -1]]
    assert values[0] == pytest.approx([0.5, 0.1])
    assert np.isneginf(values[1, 1])


def test_top_k_breaks_ties_by_item_order():
    items, _ = top_k(np.array([[1.0, 2.0, 2.0, 1.0]]), k=3)
    assert items.tolist() == [[1, 2, 0]]


def test_warp_kos_is_trained_without_weights_and_says_so():
    _, _, found, _, _ = tiny_matrices()
    with pytest.raises(NotImplementedError, match="k-OS"):
        LightFM(loss="warp-kos").fit(found.matrix, sample_weight=found.weights)
    kos = CandidateModel(loss="warp-kos", components=4, epochs=2).fit(found.matrix, found.weights)
    warp = CandidateModel(loss="warp", components=4, epochs=2).fit(found.matrix, found.weights)
    assert kos.weighted_ is False
    assert "unweighted" in kos.notes_[0]
    assert warp.weighted_ is True and warp.notes_ == []


def test_ensemble_averages_row_standardised_scores_by_weight():
    _, _, found, user_f, item_f = tiny_matrices()
    ensemble = CandidateEnsemble({"warp": 3.0, "bpr": 1.0}, components=4, epochs=2, seed=1)
    ensemble.fit(found.matrix, found.weights, user_f, item_f)

    def standard(x: np.ndarray) -> np.ndarray:
        return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)

    expected = 0.75 * standard(ensemble.models_["warp"].scores(user_f))
    expected += 0.25 * standard(ensemble.models_["bpr"].scores(user_f))
    assert ensemble.scores(user_f) == pytest.approx(expected, abs=1e-5)


def test_candidate_recall_counts_label_items_among_candidates():
    labels = pd.DataFrame({"user_id": ["u", "u", "v"], "item_id": [1, 2, 3]})
    candidates = np.array([[0, 2], [1, -1]])  # item rows of items [1, 2, 3]
    # u finds 1 of {1, 2}; v finds nothing of {3}
    assert candidate_recall(np.array(["u", "v"]), candidates, np.array([1, 2, 3]), labels) == pytest.approx(0.25)


# -- cold start -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tenure", "share"),
    [
        pytest.param(0, 0.0, id="day 0 content only"),
        pytest.param(7, 0.0, id="day 7 content only"),
        pytest.param(8, 0.3, id="day 8 30% collaborative"),
        pytest.param(30, 0.3, id="day 30 30% collaborative"),
        pytest.param(31, 1.0, id="day 31 collaborative only"),
        pytest.param(np.nan, 1.0, id="unknown tenure: established"),
    ],
)
def test_tenure_schedule_weights_at_boundary_days(tenure: float, share: float):
    assert collaborative_share([tenure], SCHEDULE).tolist() == [share]


def test_customer_without_history_is_content_only_whatever_the_tenure():
    assert collaborative_share([400, 400], SCHEDULE, has_history=[True, False]).tolist() == [1.0, 0.0]


def test_segment_popularity_is_pulled_towards_overall_and_unknown_segment_gets_overall():
    table = PopularityTable(ia.IdMap.fit([1, 2])).fit(
        pd.DataFrame({"user_id": [1, 2, 3], "item_id": [1, 1, 2], "ts": DAY0}),
        pd.DataFrame({"user_id": [1, 2, 3], "segment": ["a", "a", "b"]}),
    )
    overall = np.array([2 / 3, 1 / 3])
    assert table.overall_ == pytest.approx(overall)
    # segment a: 2 buyers of item 1 -> (counts + 10 * overall) / (2 + 10)
    assert table.shares(["a"])[0] == pytest.approx((np.array([2, 0]) + 10 * overall) / 12)
    assert table.shares(["zzz", None])[1] == pytest.approx(overall)


# -- the fitted recommender ----------------------------------------------------------------------------

ITEMS = pd.DataFrame(
    {
        "item_id": [1, 2, 3, 4, 5, 6],
        "category": ["data", "data", "data", "voice", "voice", "combo"],
        "price": [10_000.0, 25_000.0, 50_000.0, 8_000.0, 20_000.0, 60_000.0],
        "validity_days": [1, 7, 30, 7, 30, 30],
        "data_mb": [1024.0, 5120.0, 20480.0, 0.0, 0.0, 8192.0],
        "voice_min": [0.0, 0.0, 0.0, 100.0, 600.0, 300.0],
    }
)
ITEM_TOKENS = ia.long_tokens(ITEMS, "item_id", {"category": "category:" + ITEMS["category"]})


def shop(n_users: int = 24) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment a renews data pack 1 or 2 every week, segment b voice pack 4 or 5; one more buy per period."""
    rows = []
    for user in range(n_users):
        pack = [1, 2, 4, 5][user % 4]
        for week in range(12):
            rows.append((user, pack, DAY0 + pd.Timedelta(days=7 * week + user % 3), 1.0))
    users = pd.DataFrame(
        {
            "user_id": range(n_users),
            "segment": ["a" if user % 4 < 2 else "b" for user in range(n_users)],
            "tenure_days": 400,
            "arpu": 50_000.0,
            "usage_data_mb": [5000.0 if user % 4 < 2 else 0.0 for user in range(n_users)],
            "usage_voice_min": [0.0 if user % 4 < 2 else 200.0 for user in range(n_users)],
        }
    )
    return pd.DataFrame(rows, columns=list(ia.EVENT_COLUMNS)), users


def fitted(**changes: object) -> tuple[Recommender, pd.DataFrame, pd.DataFrame]:
    history, users = shop()
    tokens = ia.long_tokens(users, "user_id", {"segment": "segment:" + users["segment"]})
    cut, past = DAY0 + pd.Timedelta(days=70), DAY0 + pd.Timedelta(days=42)
    before = history.loc[history["ts"] < past]
    labels = history.loc[(history["ts"] >= past) & (history["ts"] < cut)]
    ranker = Stage(before, users, tokens, past, labels=labels)
    serving = Stage(history.loc[history["ts"] < cut], users, tokens, cut)
    model = Recommender(settings(**changes)).fit(ITEMS, ITEM_TOKENS, serving, ranker)
    return model, users, tokens


@pytest.fixture(scope="module")
def recommender() -> Recommender:
    return fitted()[0]


def test_recommendations_renew_the_pack_each_customer_keeps_buying(recommender: Recommender):
    recs = recommender.recommend([0, 1, 2, 3])
    first = recs.loc[recs["rank"] == 1].set_index("user_id")["item_id"]
    assert first.to_dict() == {0: 1, 1: 2, 2: 4, 3: 5}
    assert recs.groupby("user_id").size().tolist() == [3, 3, 3, 3]
    assert all(len(said) >= 1 for said in recs["reasons"])


def test_already_bought_products_are_never_recommended_when_excluded():
    model, _, _ = fitted(exclude_purchased=True)
    recs = model.recommend([0, 2])
    assert 1 not in recs.loc[recs["user_id"] == 0, "item_id"].tolist()
    assert 4 not in recs.loc[recs["user_id"] == 2, "item_id"].tolist()


def test_unknown_ids_get_a_full_list_and_never_raise(recommender: Recommender):
    recs = recommender.recommend(["nobody", 10_000, None, 0, 0])
    assert recs.groupby("user_id", sort=False).size().to_dict() == {"nobody": 3, 10_000: 3, 0: 3}
    assert recs.groupby("user_id")["item_id"].nunique().min() == 3


def test_features_only_customer_gets_segment_tastes(recommender: Recommender):
    _, users = shop()
    newcomer = pd.DataFrame({"user_id": [500], "segment": ["b"], "tenure_days": [2]})
    tokens = pd.DataFrame({"id": [500], "token": ["segment:b"]})
    recs = recommender.recommend([500], pd.concat([users, newcomer]), tokens)
    assert len(recs) == 3
    assert set(recs["item_id"].head(2)) <= {4, 5}  # what segment b buys
    assert "popular in your segment" in recs["reasons"].iloc[0]


def test_ranker_stage_is_cut_before_its_labels_and_serving_before_the_cut_off():
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "product_id": [9, 9, 9, 9],
            "ts": pd.to_datetime(["2025-01-10", "2025-02-05", "2025-02-20", "2025-03-02"]),
            "quantity": [1, 1, 1, 1],
        }
    )
    snapshots = pd.DataFrame(
        {"customer_id": [1, 1], "snapshot_date": pd.to_datetime(["2025-01-30", "2025-03-01"]), "segment": "a"}
    )
    serving, ranker = telco_stages(transactions, snapshots, "2025-03-01", horizon_days=30)
    assert ranker.events["ts"].tolist() == [pd.Timestamp("2025-01-10")]
    assert ranker.labels["ts"].tolist() == [pd.Timestamp("2025-02-05"), pd.Timestamp("2025-02-20")]
    assert serving.events["ts"].max() == pd.Timestamp("2025-02-20")


def test_recommender_survives_pickling(recommender: Recommender):
    again = pickle.loads(pickle.dumps(recommender))
    pd.testing.assert_frame_equal(again.recommend([0, 3, "x"]), recommender.recommend([0, 3, "x"]))


# -- ranker features -------------------------------------------------------------------------------

# Films 1-4: 1 comedy, 2 comedy + romance, 3 drama, 4 comedy + romance. User 7 saw 1, 2, 3; user 8 saw 3.
FILMS = pd.DataFrame({"item_id": [1, 2, 3, 4], "category": ["comedy", "comedy", "drama", "comedy"]})
GENRES = pd.DataFrame(
    {"id": [1, 2, 2, 3, 4, 4], "token": ["comedy", "comedy", "romance", "drama", "comedy", "romance"]}
)
SEEN = pd.DataFrame({"user_id": [7, 7, 7, 8], "item_id": [1, 2, 3, 3], "ts": DAY0, "quantity": 1.0})


def film_history() -> tuple[ItemTable, History]:
    films = ItemTable.build(FILMS, ia.IdMap.fit(FILMS["item_id"]), GENRES)
    users = ia.IdMap.fit([7, 8])
    as_of = np.full(2, np.datetime64(DAY0 + pd.Timedelta(days=1)), dtype="datetime64[ns]")
    return films, History.build(SEEN, users, films, as_of)


def test_token_affinity_is_the_users_mean_share_over_the_items_tokens():
    films, history = film_history()
    # user 7: 2 of 3 films are comedies, 1 of 3 a romance -> film 4 (comedy + romance): (2/3 + 1/3) / 2
    # user 8: no comedy, no romance -> 0; unknown user -> NaN
    found = history.token_affinity(np.array([0, 1, -1]), films.tokens, np.array([3, 3, 3]))
    assert found[:2] == pytest.approx([0.5, 0.0])
    assert np.isnan(found[2])
    assert history.n_items.tolist() == [3, 1]


def test_neighbour_score_is_the_mean_cosine_to_the_users_items():
    _, history = film_history()
    # buyers: film 1 {7}, 2 {7}, 3 {7, 8}, 4 {}; cos(1, 2) = 1, cos(1, 3) = 1 / sqrt(2), film 4 has no buyer
    assert history.similarity[0, 1] == pytest.approx(1.0)
    assert history.similarity[0, 2] == pytest.approx(1 / math.sqrt(2))
    assert history.similarity[0, 0] == 0.0
    # user 8 (film 3) and film 1: 1 / sqrt(2) over 1 film; user 7 and film 4: 0
    found = history.neighbour_score(np.array([1, 0]), np.array([0, 3]))
    assert found == pytest.approx([1 / math.sqrt(2), 0.0])


def test_peer_popularity_is_the_mean_lift_over_the_users_tokens():
    table = PopularityTable(ia.IdMap.fit([1, 2])).fit(
        pd.DataFrame({"user_id": [1, 2, 3, 4], "item_id": [1, 1, 2, 2], "ts": DAY0, "rating": [5.0, 5.0, 3.0, 3.0]}),
        pd.DataFrame({"user_id": [1, 2, 3, 4]}),
        user_tokens=pd.DataFrame({"id": [1, 2, 3, 4, 1], "token": ["young", "young", "old", "old", "f"]}),
    )
    # overall both items 1/2; token young: 2 of 2 bought item 1 -> (2 + 10 * 1/2) / (2 + 10) = 7/12
    young = math.log2((7 / 12 + 1e-6) / (1 / 2 + 1e-6))
    f = math.log2(((1 + 10 * 0.5) / 11 + 1e-6) / (1 / 2 + 1e-6))
    tokens = pd.DataFrame({"id": [1, 1, 2, 9], "token": ["young", "f", "young", "unknown"]})
    found = table.peer_lift(tokens, np.array([1, 2, 9]), np.array([0, 0, 0]))
    assert found[:2] == pytest.approx([(young + f) / 2, young], abs=1e-5)
    assert np.isnan(found[2])
    # mean ratings pulled towards the mean of all (4.0) by 10 ratings: item 1 (5 + 5 + 40) / 12
    assert table.mean_rating_of(np.array([0, 1])) == pytest.approx([50 / 12, 46 / 12])


def test_ranker_leaves_out_features_without_values_and_can_keep_the_candidate_order():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(60, len(FEATURES))), columns=list(FEATURES))
    frame["expiry_gap"] = np.nan
    frame["log_price"] = 3.0
    frame.insert(0, "user_id", np.repeat(np.arange(12), 5))
    bought = (frame["token_affinity"] > 0.5).astype(int).to_numpy()
    bought[::5] = 1
    ranker = Ranker(n_estimators=5, candidate_weight=1.0).fit(frame, bought)
    assert "expiry_gap" not in ranker.features_ and "log_price" not in ranker.features_
    assert list(ranker.contributions(frame.head(2)).columns) == [*ranker.features_, "bias"]
    # all weight on the candidate score: each user's candidate score, standardised
    first = frame["candidate_score"].to_numpy()[:5]
    assert ranker.predict(frame)[:5] == pytest.approx((first - first.mean()) / first.std())
    with pytest.raises(Exception, match="candidate_weight"):
        Ranker(candidate_weight=1.5)


def test_a_ranker_on_the_candidate_scores_alone_keeps_their_order():
    rng = np.random.default_rng(2)
    score = rng.normal(size=200)
    frame = pd.DataFrame({"user_id": np.repeat(np.arange(20), 10), "candidate_score": score})
    frame["candidate_rank"] = frame.groupby("user_id")["candidate_score"].rank(ascending=False)
    bought = (rng.random(200) < 0.3).astype(int)  # noise: the monotone ranker may not reverse the order
    ranker = Ranker(n_estimators=30, features=["candidate_score", "candidate_rank"]).fit(frame, bought)
    predicted = frame.assign(p=ranker.predict(frame)).sort_values("candidate_score")
    assert (predicted.groupby("user_id")["p"].diff().dropna() >= -1e-9).all()


# -- ranker and reasons ----------------------------------------------------------------------------------


def test_ranker_learns_an_obviously_separable_case():
    rng = np.random.default_rng(0)
    n_users, k = 40, 5
    frame = pd.DataFrame(rng.normal(size=(n_users * k, len(FEATURES))), columns=list(FEATURES))
    frame.insert(0, "user_id", np.repeat(np.arange(n_users), k))
    bought = np.zeros(n_users * k, dtype=int)
    bought[np.arange(n_users) * k + rng.integers(0, k, n_users)] = 1
    frame["item_affinity"] = np.where(bought == 1, 3.0, 0.0)  # bought before <=> bought again
    train, test = frame["user_id"] < 30, frame["user_id"] >= 30
    ranker = Ranker(n_estimators=20, max_depth=2, min_child_weight=0.0, subsample=1.0).fit(
        frame.loc[train], bought[train]
    )
    scores = frame.loc[test].assign(score=ranker.predict(frame.loc[test]), bought=bought[test])
    best = scores.sort_values("score", ascending=False).groupby("user_id").head(1)
    assert best["bought"].tolist() == [1] * 10


def test_ranker_refuses_labels_without_anything_to_learn():
    frame = pd.DataFrame(np.zeros((4, len(FEATURES))), columns=list(FEATURES)).assign(user_id=[1, 1, 2, 2])
    with pytest.raises(Exception, match="both a bought and a not-bought"):
        Ranker().fit(frame, np.zeros(4))


def test_reasons_say_the_top_positive_contributions_in_plain_words():
    rows = pd.DataFrame(
        {"usage_data_mb": [9216.0, 100.0], "category": ["data", "voice"], "days_since_category": [3.0, np.nan]}
    )
    contributions = pd.DataFrame(
        {
            "usage_data_mb": [0.8, -0.1],
            "segment_popularity": [0.3, -0.2],
            "days_since_category": [0.5, 0.4],  # row 2: no value to speak of -> skipped
            "bias": [9.0, 9.0],
        }
    )
    said = reasons(contributions, rows, limit=2)
    assert said[0] == ["you used 9 GB in the last 7 days", "you last bought a data pack 3 days ago"]
    assert said[1] == [FALLBACK]
    assert reasons(contributions, rows, limit=3)[0][2] == "popular in your segment"


def test_reasons_for_film_features_read_as_plain_words():
    rows = pd.DataFrame(
        {
            "token_affinity": [0.6, 0.2],
            "item_mean_rating": [4.23, np.nan],
            "neighbour_score": [0.1, 0.2],
            "peer_popularity": [0.3, np.nan],
            "category": ["comedy", "drama"],
        }
    )
    contributions = pd.DataFrame(
        {
            "token_affinity": [0.9, 0.5],
            "item_mean_rating": [0.5, 0.4],
            "neighbour_score": [0.2, 0.3],
            "peer_popularity": [0.1, 0.2],
            "bias": 0.0,
        }
    )
    said = reasons(contributions, rows, limit=4)
    assert said[0] == [
        "it shares traits with most of the things you chose",
        "rated 4.2 on average by others",
        "people who chose what you chose also chose it",
        "popular with people like you",
    ]
    assert said[1] == [
        "it shares traits with many of the things you chose",
        "people who chose what you chose also chose it",
    ]


def test_reasons_come_from_the_ranker_contributions(recommender: Recommender):
    recs = recommender.recommend([0])
    assert recs["reasons"].map(len).between(1, 2).all()
    assert all(isinstance(text, str) and text for said in recs["reasons"] for text in said)


# -- config --------------------------------------------------------------------------------------------


def test_repository_config_has_a_valid_recommender_section(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    section = load_models_settings(env={}).recommender
    assert section.candidates.k_candidates == 20
    assert section.top_n == 5
    assert [(s.until_day, s.collaborative) for s in section.cold_start.tenure_schedule] == SCHEDULE
    assert "recommender" not in load_models_settings(env={}).model_names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"candidates": {"losses": {"logistic": 1.0}}}, "unknown loss", id="unknown loss"),
        pytest.param(
            {"cold_start": {"tenure_schedule": [{"until_day": 30, "collaborative": 0.3}]}},
            "last step",
            id="schedule without an open end",
        ),
    ],
)
def test_bad_recommender_settings_fail_with_the_reason(change: dict, message: str):
    base = settings().model_dump()
    for section, values in change.items():
        base[section].update(values)
    with pytest.raises(ValueError, match=message):
        RecommenderSettings.model_validate(base)
