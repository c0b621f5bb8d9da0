"""Ranking metrics against hand-computed answers, and the array path against the mapping path."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops_platform.evaluation.ranking import (
    cold_start_hit_rate,
    coverage,
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
)

RECS = {"u": ["a", "b", "c", "d", "e"]}
RELEVANT = {"u": {"b", "e", "x"}}


def test_single_user_matches_hand_computed_values():
    # hits at ranks 2 and 5; three relevant items, one of them never recommended
    dcg = 1 / math.log2(3) + 1 / math.log2(6)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert precision_at_k(RECS, RELEVANT, k=5) == pytest.approx(2 / 5)
    assert recall_at_k(RECS, RELEVANT, k=5) == pytest.approx(2 / 3)
    assert ndcg_at_k(RECS, RELEVANT, k=5) == pytest.approx(dcg / idcg)
    assert map_at_k(RECS, RELEVANT, k=5) == pytest.approx((1 / 2 + 2 / 5) / 3)
    assert hit_rate_at_k(RECS, RELEVANT, k=5) == 1.0
    # at k=1 the only item is a miss
    assert hit_rate_at_k(RECS, RELEVANT, k=1) == 0.0


def test_report_names_every_metric_at_every_k():
    report = ranking_report(RECS, RELEVANT, ks=(2, 5), catalogue_size=10)

    # top-2 = [a, b]: one hit at rank 2; ideal DCG and AP use min(2, 3) = 2
    assert report["precision_at_2"] == pytest.approx(1 / 2)
    assert report["recall_at_2"] == pytest.approx(1 / 3)
    assert report["ndcg_at_2"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert report["map_at_2"] == pytest.approx((1 / 2) / 2)
    assert report["hit_rate_at_2"] == 1.0
    assert report["coverage_at_2"] == pytest.approx(2 / 10)
    assert report["precision_at_5"] == pytest.approx(2 / 5)
    assert report["map_at_5"] == pytest.approx((1 / 2 + 2 / 5) / 3)
    assert report["coverage_at_5"] == pytest.approx(5 / 10)
    assert report["n_users"] == 1.0
    assert report["n_skipped_users"] == 0.0
    assert all(isinstance(value, float) for value in report.values())


def test_map_and_ndcg_normalise_by_min_of_k_and_relevant_count():
    # five relevant items, both recommended ones are hits: a perfect top-2
    recs, relevant = {"u": ["a", "b"]}, {"u": {"a", "b", "c", "d", "e"}}
    assert map_at_k(recs, relevant, k=2) == pytest.approx(1.0)
    assert ndcg_at_k(recs, relevant, k=2) == pytest.approx(1.0)
    assert recall_at_k(recs, relevant, k=2) == pytest.approx(2 / 5)


def test_precision_divides_by_k_when_the_list_is_shorter():
    assert precision_at_k({"u": ["a"]}, {"u": {"a"}}, k=5) == pytest.approx(1 / 5)
    assert map_at_k({"u": ["a"]}, {"u": {"a"}}, k=5) == pytest.approx(1.0)


def test_exclusion_removes_items_before_the_cut():
    recs, relevant, seen = {"u": ["a", "b", "c", "d"]}, {"u": {"d"}}, {"u": {"a"}}

    assert hit_rate_at_k(recs, relevant, k=3) == 0.0
    # without the seen item the list is [b, c, d]: d moves up to rank 3
    assert precision_at_k(recs, relevant, k=3, exclude=seen) == pytest.approx(1 / 3)
    assert ndcg_at_k(recs, relevant, k=3, exclude=seen) == pytest.approx(1 / math.log2(4))
    assert map_at_k(recs, relevant, k=3, exclude=seen) == pytest.approx(1 / 3)
    array = np.array([["a", "b", "c", "d"]])
    assert ndcg_at_k(array, [{"d"}], k=3, exclude=[{"a"}]) == pytest.approx(1 / math.log2(4))


def test_users_without_relevant_items_are_skipped_and_counted():
    recs = {"u1": ["a", "b"], "u2": ["c", "d"], "u3": ["e", "f"]}
    relevant = {"u1": {"a"}, "u2": set()}

    report = ranking_report(recs, relevant, ks=(2,))

    assert report["n_users"] == 1.0
    assert report["n_skipped_users"] == 2.0
    assert report["precision_at_2"] == pytest.approx(1 / 2)


def test_a_buyer_without_recommendations_counts_as_a_miss():
    report = ranking_report({"u1": ["a", "b"]}, {"u1": {"a"}, "u9": {"z"}}, ks=(2,))

    assert report["n_users"] == 2.0
    assert report["hit_rate_at_2"] == pytest.approx(1 / 2)
    assert report["recall_at_2"] == pytest.approx(1 / 2)


def test_no_evaluated_user_gives_nan():
    assert math.isnan(precision_at_k({"u": ["a"]}, {}, k=1))
    assert math.isnan(ranking_report(np.array([[1, 2]]), {}, ks=(1,))["ndcg_at_1"])


def test_coverage_counts_distinct_items_in_every_top_k():
    recs = {"u1": ["a", "b", "c"], "u2": ["a", "d", "e"]}

    assert coverage(recs, catalogue_size=10, k=2) == pytest.approx(3 / 10)  # a, b, d
    assert coverage(recs, catalogue_size=10, k=2, exclude={"u1": {"a"}}) == pytest.approx(4 / 10)  # b, c, a, d
    assert coverage(np.array([[1, 2, 3], [1, 4, 5]]), catalogue_size=10, k=2) == pytest.approx(3 / 10)
    with pytest.raises(ValueError, match="catalogue_size"):
        coverage(recs, catalogue_size=2, k=2)


def test_cold_start_hit_rate_counts_only_cold_users_who_bought():
    recs = {"c1": ["a", "b"], "c2": ["a", "b"], "c3": ["a", "b"], "w1": ["a", "b"]}
    relevant = {"c1": {"b"}, "c2": {"z"}, "c3": set(), "w1": {"a"}}
    cold = {"c1", "c2", "c3"}

    # c3 bought nothing and w1 is not cold: c1 hits, c2 misses
    assert cold_start_hit_rate(recs, relevant, cold, k=2) == pytest.approx(1 / 2)
    # at k=1 c1's hit falls outside the top-1
    assert cold_start_hit_rate(recs, relevant, cold, k=1) == 0.0
    assert math.isnan(cold_start_hit_rate(recs, relevant, {"c3"}, k=2))
    array = np.array([["a", "b"]] * 4)
    users = ["c1", "c2", "c3", "w1"]
    assert cold_start_hit_rate(array, relevant, cold, k=2, users=users) == pytest.approx(1 / 2)


def _random_case(seed: int, n_users: int = 300, n_items: int = 40, width: int = 12):
    rng = np.random.default_rng(seed)
    recs = np.stack([rng.permutation(n_items)[:width] for _ in range(n_users)])
    relevant = {u: set(rng.choice(n_items, size=rng.integers(0, 6), replace=False).tolist()) for u in range(n_users)}
    seen = {u: set(rng.choice(n_items, size=rng.integers(0, 4), replace=False).tolist()) for u in range(n_users)}
    return recs, relevant, seen


def test_array_path_equals_mapping_path_on_random_data():
    recs, relevant, seen = _random_case(seed=7)
    as_mapping = {u: row.tolist() for u, row in enumerate(recs)}
    kwargs = {"ks": (1, 5, 10, 15), "catalogue_size": 40}

    for exclude in (None, seen):
        expected = ranking_report(as_mapping, relevant, exclude=exclude, **kwargs)
        assert ranking_report(recs, relevant, exclude=exclude, **kwargs) == pytest.approx(expected)
    assert expected["n_skipped_users"] > 0


def test_array_path_with_string_ids_and_named_users_equals_mapping_path():
    recs, relevant, seen = _random_case(seed=11)
    names = [f"user{u}" for u in range(len(recs))]
    items = np.char.add("p", recs.astype(str))

    def by_name(sets: dict) -> dict:
        return {names[u]: {f"p{i}" for i in values} for u, values in sets.items()}

    as_mapping = {names[u]: row.tolist() for u, row in enumerate(items)}
    expected = ranking_report(as_mapping, by_name(relevant), exclude=by_name(seen), catalogue_size=40)
    got = ranking_report(items, by_name(relevant), exclude=by_name(seen), catalogue_size=40, users=names)
    assert got == pytest.approx(expected)
    # relevant and exclude may also be sequences aligned with the rows
    aligned = ranking_report(recs, [relevant[u] for u in range(len(recs))], exclude=[seen[u] for u in range(len(recs))])
    assert aligned == pytest.approx(ranking_report(recs, relevant, exclude=seen))


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: precision_at_k(RECS, RELEVANT, k=0), "k"),
        (lambda: recall_at_k(RECS, RELEVANT, k=-1), "k"),
        (lambda: ndcg_at_k(RECS, RELEVANT, k=2.5), "k"),
        (lambda: ranking_report(RECS, RELEVANT, ks=(5, 0)), "ks"),
        (lambda: ranking_report(RECS, RELEVANT, ks=()), "ks"),
        (lambda: coverage(RECS, catalogue_size=0, k=5), "catalogue_size"),
        (lambda: precision_at_k(np.array([1, 2, 3]), {0: {1}}, k=1), "recs"),
        (lambda: precision_at_k(np.array([[1, 2], [3, 4]]), [{1}], k=1), "relevant"),
        (lambda: precision_at_k(np.array([[1, 2], [3, 4]]), {}, k=1, exclude=[{1}]), "exclude"),
        (lambda: precision_at_k(np.array([[1, 2], [3, 4]]), {}, k=1, users=["a"]), "users"),
        (lambda: precision_at_k(RECS, RELEVANT, k=1, users=["u"]), "users"),
        (lambda: precision_at_k(RECS, [{"a"}], k=1), "relevant"),
        (lambda: precision_at_k({"u": ["a", "a"]}, RELEVANT, k=1), "recs"),
        (lambda: precision_at_k(np.array([[1, 1]]), {0: {1}}, k=1), "recs"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        call()
