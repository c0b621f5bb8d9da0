"""Recommender quality on MovieLens 100k (ua.base / ua.test), through the platform's recommender code.

    .venv/bin/python benchmarks/recommender_quality.py            # the record (3 seeds)
    .venv/bin/python benchmarks/recommender_quality.py --seeds 1  # while developing
    .venv/bin/python benchmarks/recommender_quality.py --quick    # a user sample, one seed; a smoke test

Four parts, all on the ua split (ua.test: 10 ratings per user, never used to train, tune or
stop early):

1. The LightFM docs' protocol (doc/examples/movielens_implicit.rst): every rating is a positive,
   item identity features only (no metadata), ``LightFM(learning_rate=0.05, loss=...)`` with the
   default 10 components, 10 epochs, precision@10 on ua.test with train items NOT excluded.
   Published: WARP 0.11, BPR 0.10. Our top-K comes from the vectorised scores; LightFM's own
   ``precision_at_k`` is run on the same model as a cross-check. (ii) The same models with the
   train items excluded from each list.
2. The ranker's design (features, settings, the candidate weight) was chosen on a validation
   split inside ua.base only: per user up to 10 random ratings held out (as ua.test was drawn),
   the rest playing ua.base. Its figures for the chosen design are recorded next to the test ones.
3. Contenders with user (age band, gender, occupation) and item (genre) features, train items
   excluded, the hyper-parameters of ``config/models.yaml`` (``k_candidates`` is raised to 100
   for a 1,682-film catalogue, popularity counts all of ua.base, purchases are excluded, and the
   ranker's settings below): popularity, LightFM per loss, LightFM + XGBoost ranker, an ensemble
   of the three losses (with and without the ranker). LightFM learns from the ratings alone
   (identity features); the user and film features go to the ranker (tokens flagged
   ``ranker_only``), and "LightFM alone" is the very candidate model the ranker re-orders (same
   fit, same run). The ranker learns from a time split inside ua.base: per user the latest 20% of
   ratings are its labels and LightFM is fitted on the earlier ones; candidates for ua.test then
   come from LightFM refitted on all of ua.base. A reference row puts the features inside
   LightFM instead (no ranker).
4. Speed: training time per contender and batch top-K throughput (the vectorised product over
   the learned representations against the named baseline, one ``LightFM.predict`` call per user).

Results: ``benchmarks/results/recommender_quality.{json,md}``. MovieLens is research-only data
(see its SOURCE.md): it is read from ``../shared/data/movielens_100k`` and never copied.
``--quick`` runs every part on a seeded sample of ``QUICK_USERS`` users with one seed and writes
to ``--out`` or a scratch folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from harness import (
    REPO,
    add_output_args,
    load_line,
    machine_line,
    output_dir,
    publish,
    require_data,
    rerender,
    shared_data,
)
from lightfm.evaluation import precision_at_k as lightfm_precision_at_k

from mlops_platform.config import RecommenderSettings, load_models_settings
from mlops_platform.evaluation.ranking import precision_at_k, ranking_report
from mlops_platform.models.recommender import interactions as ia
from mlops_platform.models.recommender.candidates import CandidateModel, top_k
from mlops_platform.models.recommender.model import Recommender, Stage

NAME = "recommender_quality"
DATA = shared_data() / "movielens_100k"
QUICK_USERS = 120
PUBLISHED = {"warp": 0.11, "bpr": 0.10}  # precision@10, doc/examples/movielens_implicit.rst
TOLERANCE = 0.01
K_CANDIDATES = 100
# Ratings are not purchases: no recency decay. Chosen on the time split inside ua.base (WARP with
# features, precision@10 of the latest 20%: 0.110 without decay, 0.104 with the config's 60 days).
NO_DECAY_DAYS = 36_500.0
LABEL_SHARE = 0.2
ENSEMBLE = {"warp": 1 / 3, "bpr": 1 / 3, "warp-kos": 1 / 3}
# Chosen on the validation split inside ua.base (see NOTES), never on ua.test.
RANKER = {"n_estimators": 50, "learning_rate": 0.05, "max_depth": 3}
CANDIDATE_WEIGHT = 0.5
VALIDATION_HELD_OUT = 10
AGE_BANDS = ((17, "<18"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (49, "45-49"), (55, "50-55"))
RATING_COLUMNS = ["user_id", "item_id", "rating", "ts"]
NOTES = (
    "Part 1 reproduces the docs' figures; the same numbers come out of LightFM's own precision_at_k.",
    "How the ranker's design was chosen: on a validation split inside ua.base only (per user up to 10 random "
    "ratings held out, as ua.test was drawn; the rest split by time for the ranker as in part 2), WARP, seed 42, "
    "NDCG@5. LightFM alone (identity features) 0.229; the previous ranker on it 0.14-0.16, and even a ranker "
    "reading only the candidate scores 0.160: the labels (each user's latest ratings) are far less popular films "
    "(median 84 ratings against 131 for random held-out ones) and lower rated, and LightFM's order predicts "
    "them weakly (label rate 8.7% in the top 10 candidates, 4.4% at ranks 90-100), so the trees fit noise and "
    "learn 'less popular is better'.",
    "Fixes chosen there: monotone constraints (candidate score up, rank and gap down; popularity, affinity, "
    "rating and neighbour features up), which make a score-only ranker reproduce LightFM exactly; 50 trees of "
    "depth 3 at learning rate 0.05 instead of the config's 200 / 4 / 0.1; and a final score of 0.5 x the "
    "ranker's plus 0.5 x the candidate score (each standardised per user). Candidate weight on two validation "
    "draws, NDCG@5 for w = 0 / 0.25 / 0.5 / 0.75 / 1: 0.187 / 0.237 / 0.241 / 0.235 / 0.229 and "
    "0.189 / 0.228 / 0.236 / 0.229 / 0.225. Label share (before the blend and the constraints on "
    "popularity and affinity): 0.181 / 0.194 / 0.180 at 0.2 / 0.35 / 0.5, all below LightFM; it stays at the "
    "issue's 0.2 and was not tried with the blend. The config's ranker settings with the blend gave 0.241 / 0.232.",
    "The ranker reads the film side information the candidate model does not: genre affinity (the user's share "
    "of films with each of the film's genres), popularity among users of the same age band, gender and "
    "occupation, item-item neighbour similarity to the user's films, popularity and the mean rating over the "
    "whole training stage, the user's number of films. Telco features without a value here (expiry, price "
    "against ARPU, usage fit ...) are left out of the fitted ranker automatically.",
    "ua.test holds 10 ratings per user drawn at random (under 2% after the user's last ua.base rating), not "
    "the next ones: a ranker learnt from the latest ratings is judged on random ones.",
    "The reference row puts the user (age, gender, occupation) and genre features inside LightFM instead: on "
    "this split they cost precision, which is why LightFM feeds the ranker with identity features only.",
)


@dataclass(frozen=True)
class MovieLens:
    train: pd.DataFrame  # ua.base as events
    test: pd.DataFrame  # ua.test as events
    users: pd.DataFrame
    user_tokens: pd.DataFrame
    items: pd.DataFrame
    item_tokens: pd.DataFrame


def _ratings(name: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / name, sep="\t", names=RATING_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s")
    frame["quantity"] = 1.0
    return frame


def load() -> MovieLens:
    """ua.base / ua.test as events, users with age band, gender, occupation, films with genres."""
    users = pd.read_csv(DATA / "u.user", sep="|", names=["user_id", "age", "gender", "occupation", "zip"])
    genres = pd.read_csv(DATA / "u.genre", sep="|", names=["genre", "code"]).dropna()["genre"].tolist()
    names = ["item_id", "title", "release", "video", "url", *genres]
    films = pd.read_csv(DATA / "u.item", sep="|", names=names, encoding="latin-1")
    flags = films[genres].to_numpy(bool)
    first = np.where(flags.any(axis=1), np.array(genres, dtype=object)[flags.argmax(axis=1)], "unknown")
    items = pd.DataFrame({"item_id": films["item_id"], "category": first, "name": films["title"]})
    rows, cols = np.nonzero(flags)
    item_tokens = pd.DataFrame({"id": films["item_id"].to_numpy()[rows], "token": [f"genre:{genres[c]}" for c in cols]})
    age = pd.Series(np.full(len(users), "56+", dtype=object))
    for edge, label in reversed(AGE_BANDS):
        age[users["age"].to_numpy() <= edge] = label
    users_frame = pd.DataFrame({"user_id": users["user_id"], "segment": users["occupation"]})
    user_tokens = ia.long_tokens(
        users,
        "user_id",
        {"age": "age:" + age, "gender": "gender:" + users["gender"], "job": "occupation:" + users["occupation"]},
    )
    return MovieLens(_ratings("ua.base"), _ratings("ua.test"), users_frame, user_tokens, items, item_tokens)


def sample_users(ml: MovieLens, users: int, seed: int = 0) -> MovieLens:
    """The same data restricted to ``users`` users drawn with ``seed`` (every film kept)."""
    drawn = np.random.default_rng(seed).choice(ml.users["user_id"].to_numpy(), size=users, replace=False)
    keep = set(drawn.tolist())
    return dataclasses.replace(
        ml,
        train=ml.train.loc[ml.train["user_id"].isin(keep)],
        test=ml.test.loc[ml.test["user_id"].isin(keep)],
        users=ml.users.loc[ml.users["user_id"].isin(keep)].reset_index(drop=True),
        user_tokens=ml.user_tokens.loc[ml.user_tokens["id"].isin(keep)].reset_index(drop=True),
    )


# -- 1. the LightFM docs' protocol ----------------------------------------------------------------


def _matrix(events: pd.DataFrame, shape: tuple[int, int]) -> sp.coo_matrix:
    """Users x films with the ratings as values (zero-based ids), as ``fetch_movielens`` builds it."""
    values = events["rating"].to_numpy(np.float32)
    return sp.coo_matrix((values, (events["user_id"] - 1, events["item_id"] - 1)), shape=shape)


def docs_protocol(ml: MovieLens, seeds: list[int]) -> dict[str, Any]:
    """Precision@10 of the docs' WARP and BPR models, train items kept (i) and excluded (ii)."""
    shape = (int(max(ml.train.user_id.max(), ml.test.user_id.max())), int(ml.items.item_id.max()))
    train, test = _matrix(ml.train, shape), _matrix(ml.test, shape)
    relevant = (ml.test.assign(row=ml.test.user_id - 1, col=ml.test.item_id - 1)).groupby("row")["col"].agg(set)
    out: dict[str, Any] = {}
    for loss, published in PUBLISHED.items():
        kept, excluded, own, at_50 = [], [], [], []
        for seed in seeds:
            model = CandidateModel(loss=loss, components=10, epochs=10, learning_rate=0.05, seed=seed).fit(train)
            scores = model.scores()
            kept.append(precision_at_k(top_k(scores, 10)[0], relevant.to_dict(), k=10))
            excluded.append(precision_at_k(top_k(scores, 10, train.tocsr())[0], relevant.to_dict(), k=10))
            own.append(float(lightfm_precision_at_k(model.model_, test, k=10).mean()))
            at_50.append(precision_at_k(top_k(scores, 50, train.tocsr())[0], relevant.to_dict(), k=50))
        out[loss] = {
            "published_precision_at_10": published,
            "precision_at_10_not_excluded": _mean_std(kept),
            "lightfm_own_precision_at_10": _mean_std(own),
            "precision_at_10_train_excluded": _mean_std(excluded),
            "within_tolerance": abs(float(np.mean(kept)) - published) <= TOLERANCE,
            "precision_at_50_train_excluded": _mean_std(at_50),
        }
    return out


def _mean_std(values: list[float]) -> dict[str, float]:
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "runs": len(values),
        "values": [float(v) for v in values],
    }


# -- 2. contenders with features --------------------------------------------------------------------


def movielens_settings(losses: dict[str, float], seed: int) -> RecommenderSettings:
    """The config's recommender settings, adapted to a film catalogue (see the module docstring)."""
    base = load_models_settings(REPO / "config").recommender
    update = {"losses": losses, "k_candidates": K_CANDIDATES, "seed": seed, "half_life_days": NO_DECAY_DAYS}
    candidates = base.candidates.model_copy(update=update)
    cold = base.cold_start.model_copy(update={"popularity_days": None})
    ranker = base.ranker.model_copy(update={**RANKER, "candidate_weight": CANDIDATE_WEIGHT, "seed": seed})
    update = {"candidates": candidates, "cold_start": cold, "ranker": ranker, "exclude_purchased": True}
    return base.model_copy(update=update)


def side_information_for_the_ranker(ml: MovieLens) -> MovieLens:
    """The same data with every user and film token flagged ``ranker_only`` (LightFM on identities)."""
    flag = {"ranker_only": True}
    return dataclasses.replace(ml, user_tokens=ml.user_tokens.assign(**flag), item_tokens=ml.item_tokens.assign(**flag))


def validation_split(ml: MovieLens, seed: int = 0) -> MovieLens:
    """Inside ua.base only: per user up to 10 random ratings (at most half) play ua.test, the rest ua.base."""
    rng = np.random.default_rng(seed)
    base = ml.train.reset_index(drop=True)
    held = np.zeros(len(base), dtype=bool)
    for rows in base.groupby("user_id").indices.values():
        held[rng.choice(rows, size=min(VALIDATION_HELD_OUT, len(rows) // 2), replace=False)] = True
    return dataclasses.replace(ml, train=base.loc[~held], test=base.loc[held])


def stages(ml: MovieLens) -> tuple[Stage, Stage]:
    """Serving (all of ua.base) and ranker (per user: earlier 80% / latest 20% as labels) stages."""
    ordered = ml.train.sort_values(["user_id", "ts", "item_id"], kind="stable")
    position = ordered.groupby("user_id").cumcount(ascending=False)
    size = ordered.groupby("user_id")["item_id"].transform("size")
    is_label = position < np.ceil(size * LABEL_SHARE)
    history, labels = ordered.loc[~is_label], ordered.loc[is_label]
    ranker_as_of = labels.groupby("user_id")["ts"].min()
    serving_as_of = ml.train.groupby("user_id")["ts"].max() + pd.Timedelta(seconds=1)
    serving = Stage(ml.train, ml.users, ml.user_tokens, serving_as_of)
    return serving, Stage(history, ml.users, ml.user_tokens, ranker_as_of, labels=labels)


def _report(lists: dict[Any, list[Any]], ml: MovieLens) -> dict[str, float]:
    relevant = ml.test.groupby("user_id")["item_id"].agg(set).to_dict()
    report = ranking_report(lists, relevant, ks=(5, 10), catalogue_size=len(ml.items))
    keys = ("precision_at_5", "precision_at_10", "recall_at_5", "recall_at_10", "ndcg_at_5", "map_at_5")
    return {key: report[key] for key in (*keys, "coverage_at_5", "coverage_at_10")}


def popularity(ml: MovieLens) -> dict[str, Any]:
    """Most-rated films of ua.base, each user's seen films excluded."""
    started = time.perf_counter()
    ranked = ml.train.groupby("item_id")["user_id"].nunique().sort_values(ascending=False, kind="stable")
    order = ranked.index.to_numpy()
    seen = ml.train.groupby("user_id")["item_id"].agg(set)
    lists = {user: [i for i in order if i not in films][:10] for user, films in seen.items()}
    return {"metrics": _report(lists, ml), "fit_s": time.perf_counter() - started}


def _lists(recs: pd.DataFrame) -> dict[Any, list[Any]]:
    return recs.sort_values(["user_id", "rank"]).groupby("user_id")["item_id"].agg(list).to_dict()


def lightfm_contender(ml: MovieLens, losses: dict[str, float], seed: int) -> dict[str, Any]:
    """One Recommender fit: LightFM alone and LightFM + ranker on the same serving model."""
    ml = side_information_for_the_ranker(ml)
    serving, ranker = stages(ml)
    started = time.perf_counter()
    model = Recommender(movielens_settings(losses, seed))
    model.fit(ml.items, ml.item_tokens, serving, ranker)
    total = time.perf_counter() - started
    users = ml.test["user_id"].unique()
    timed = time.perf_counter()
    ranked = model.recommend(users, n=10)
    recommend_s = time.perf_counter() - timed
    timed = time.perf_counter()
    model.recommend(users, n=10, exact_reasons=False)
    approx_s = time.perf_counter() - timed
    plain = model.recommend(users, n=10, use_ranker=False, explain=False)
    return {
        "lightfm": _report(_lists(plain), ml),
        "ranker": _report(_lists(ranked), ml),
        "fit_s": total,
        "serving_fit_s": model.timings_["serving_fit_s"],
        "ranker_stage_s": model.timings_["ranker_candidates_s"] + model.timings_["ranker_fit_s"],
        "ranker_candidate_recall": model.candidate_recall_,
        "recommend_users_per_s": len(users) / recommend_s,
        "recommend_approx_reasons_users_per_s": len(users) / approx_s,
        "notes": model.notes_,
        "ranker_features": list(model.ranker_.features_) if model.ranker_ is not None else [],
        "example": ranked.loc[ranked["user_id"] == users[0]].head(3).to_dict("records"),
    }


def features_in_lightfm(ml: MovieLens, seed: int) -> dict[str, Any]:
    """Reference row: LightFM WARP with the user and film features inside it (no ranker)."""
    serving, _ = stages(ml)
    started = time.perf_counter()
    model = Recommender(movielens_settings({"warp": 1.0}, seed)).fit(ml.items, ml.item_tokens, serving)
    fit_s = time.perf_counter() - started
    plain = model.recommend(ml.test["user_id"].unique(), n=10, explain=False)
    return {"metrics": _report(_lists(plain), ml), "fit_s": fit_s}


def _aggregate(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: _mean_std([run[key] for run in runs]) for key in runs[0]}


def contenders(ml: MovieLens, seeds: list[int], config_losses: dict[str, float]) -> dict[str, Any]:
    """Every contender's metrics (mean and std over seeds) and times."""
    table: dict[str, Any] = {"popularity": {"metrics": _aggregate([popularity(ml)["metrics"]]), "fit_s": 0.0}}
    sets = {"warp": {"warp": 1.0}, "bpr": {"bpr": 1.0}, "warp-kos": {"warp-kos": 1.0}, "ensemble": ENSEMBLE}
    for name, losses in sets.items():
        runs = [lightfm_contender(ml, losses, seed) for seed in seeds]
        fit = float(np.mean([r["serving_fit_s"] for r in runs]))
        table[f"lightfm_{name}"] = {"metrics": _aggregate([r["lightfm"] for r in runs]), "fit_s": fit}
        table[f"lightfm_{name}+ranker"] = {
            "metrics": _aggregate([r["ranker"] for r in runs]),
            "fit_s": float(np.mean([r["fit_s"] for r in runs])),
            "ranker_stage_s": float(np.mean([r["ranker_stage_s"] for r in runs])),
            "ranker_candidate_recall_at_100": _mean_std([r["ranker_candidate_recall"] for r in runs]),
            "recommend_users_per_s": float(np.mean([r["recommend_users_per_s"] for r in runs])),
            "recommend_approx_reasons_users_per_s": float(
                np.mean([r["recommend_approx_reasons_users_per_s"] for r in runs])
            ),
            "notes": runs[0]["notes"],
            "ranker_features": runs[0]["ranker_features"],
            "example": runs[0]["example"],
        }
        print(f"{name}: done", flush=True)
    runs = [features_in_lightfm(ml, seed) for seed in seeds]
    table["lightfm_warp_features_inside_lightfm"] = {
        "metrics": _aggregate([r["metrics"] for r in runs]),
        "fit_s": float(np.mean([r["fit_s"] for r in runs])),
    }
    table["config_losses"] = config_losses
    return table


def validation(ml: MovieLens, seeds: list[int]) -> dict[str, Any]:
    """The chosen design on the validation split inside ua.base (two draws of the held-out ratings)."""
    out: dict[str, Any] = {}
    for draw in (0, 1):
        runs = [lightfm_contender(validation_split(ml, draw), {"warp": 1.0}, seed) for seed in seeds]
        out[f"draw_{draw}"] = {
            "lightfm_warp": _aggregate([r["lightfm"] for r in runs]),
            "lightfm_warp+ranker": _aggregate([r["ranker"] for r in runs]),
        }
    return out


# -- 3. speed ------------------------------------------------------------------------------------


def throughput(ml: MovieLens) -> dict[str, float]:
    """Users per second for a top-10: vectorised (batch product) against one predict call per user."""
    serving, _ = stages(ml)
    users_map = ia.IdMap.fit(ml.train["user_id"], ml.users["user_id"])
    items_map = ia.IdMap.fit(ml.items["item_id"])
    found = ia.build_interactions(ml.train, users_map, items_map, half_life_days=60.0)
    user_f = ia.FeatureSpace.fit(users_map, ml.user_tokens).matrix(users_map.ids, ml.user_tokens)
    item_f = ia.FeatureSpace.fit(items_map, ml.item_tokens).matrix(items_map.ids, ml.item_tokens)
    started = time.perf_counter()
    model = CandidateModel(loss="warp", components=32, epochs=30).fit(found.matrix, found.weights, user_f, item_f)
    fit_s = time.perf_counter() - started
    n_users, n_items = user_f.shape[0], item_f.shape[0]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        top_k(model.scores(user_f), 10)
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    every_item = np.arange(n_items, dtype=np.int32)
    for user in range(n_users):
        scores = model.model_.predict(user, every_item, item_features=item_f, user_features=user_f)
        np.argsort(-scores)[:10]
    loop_s = time.perf_counter() - started
    return {
        "users": n_users,
        "items": n_items,
        "fit_warp_32x30_s": fit_s,
        "vectorised_users_per_s": n_users / min(timings),
        "baseline_predict_per_user_users_per_s": n_users / loop_s,
        "speed_up": loop_s / min(timings),
    }


# -- report ----------------------------------------------------------------------------------------


def _cell(value: dict[str, float]) -> str:
    return f"{value['mean']:.4f}" + (f" ± {value['std']:.4f}" if value.get("runs", 1) > 1 else "")


def criterion(table: dict[str, Any]) -> list[str]:
    """Whether LightFM + ranker beats the same LightFM alone on NDCG@5 and precision@5, on average and per seed."""
    plain, ranked = table["lightfm_warp"]["metrics"], table["lightfm_warp+ranker"]["metrics"]
    parts, holds = [], True
    for key, label in (("ndcg_at_5", "NDCG@5"), ("precision_at_5", "precision@5")):
        pairs = list(zip(ranked[key].get("values", []), plain[key].get("values", []), strict=True))
        wins = sum(a > b for a, b in pairs)
        holds &= ranked[key]["mean"] > plain[key]["mean"]
        parts.append(f"{label} {_cell(ranked[key])} vs {_cell(plain[key])}, higher in {wins} of {len(pairs)} seeds")
    verdict = "holds" if holds else "does NOT hold"
    return [
        f"Criterion (LightFM + ranker beats the same LightFM alone, same run, on average): {verdict}; "
        + "; ".join(parts)
        + "."
    ]


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown page."""
    lines = ["# Recommender quality: MovieLens 100k (ua.base / ua.test)", "", result["protocol_note"], ""]
    lines += ["## 1. The LightFM docs' protocol (precision@10; mean ± std over seeds)", ""]
    lines += [
        "| loss | published | ours, train items kept | LightFM's own metric | within 0.01 | ours, train excluded |"
    ]
    lines += ["| --- | --- | --- | --- | --- | --- |"]
    for loss, row in result["docs_protocol"].items():
        lines.append(
            f"| {loss} | {row['published_precision_at_10']:.2f} | {_cell(row['precision_at_10_not_excluded'])} | "
            f"{_cell(row['lightfm_own_precision_at_10'])} | {'yes' if row['within_tolerance'] else 'NO'} | "
            f"{_cell(row['precision_at_10_train_excluded'])} |"
        )
    at_50 = ", ".join(
        f"{loss} {_cell(row['precision_at_50_train_excluded'])}" for loss, row in result["docs_protocol"].items()
    )
    lines += [
        "",
        f"The seed's precision@50 > 0.7 target, on this 1,682-film catalogue (train items excluded): {at_50}; "
        "every user has exactly 10 ua.test ratings, so precision@50 cannot exceed 0.2 here. On the telco catalogue "
        "(about 50 packs) a top-50 list is the whole catalogue and the target does not apply.",
    ]
    keys = ("precision_at_5", "precision_at_10", "recall_at_5", "recall_at_10", "ndcg_at_5", "map_at_5")
    lines += ["", "## 2. Validation inside ua.base (the chosen design, seed 42; ua.test untouched)", ""]
    lines += ["| held-out draw | contender | ndcg_at_5 | precision_at_5 | precision_at_10 |", "| --- " * 5 + "|"]
    for draw, rows in result.get("validation", {}).items():
        for name, row in rows.items():
            cells = [_cell(row[key]) for key in ("ndcg_at_5", "precision_at_5", "precision_at_10")]
            lines.append(f"| {draw} | {name} | " + " | ".join(cells) + " |")
    lines += ["", "## 3. ua.test: contenders (user and film features in the ranker; train items excluded)", ""]
    lines += ["| contender | " + " | ".join([*keys, "coverage_at_10", "fit s"]) + " |"]
    lines += ["| --- " * (len(keys) + 3) + "|"]
    for name, row in result["contenders"].items():
        if name == "config_losses":
            continue
        cells = [_cell(row["metrics"][key]) for key in (*keys, "coverage_at_10")]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['fit_s']:.1f} |")
    lines += ["", *criterion(result["contenders"])]
    speed = result["throughput"]
    lines += ["", "## 4. Speed (top-10 for every user, 1 thread)", ""]
    lines += [
        f"- LightFM WARP, 32 components x 30 epochs, with features: fit {speed['fit_warp_32x30_s']:.1f} s",
        f"- vectorised top-K: {speed['vectorised_users_per_s']:,.0f} users/s; baseline (one `predict` per user): "
        f"{speed['baseline_predict_per_user_users_per_s']:,.0f} users/s; speed-up x{speed['speed_up']:.0f}",
    ]
    for name, row in result["contenders"].items():
        if name.endswith("+ranker"):
            lines.append(
                f"- {name}: ranker stage {row['ranker_stage_s']:.1f} s, candidate recall@{K_CANDIDATES} "
                f"{_cell(row['ranker_candidate_recall_at_100'])}, top-10 with exact (SHAP) reasons "
                f"{row['recommend_users_per_s']:,.0f} users/s, with approximate reasons "
                f"{row['recommend_approx_reasons_users_per_s']:,.0f} users/s"
            )
    lines += ["", "## Notes", "", *(f"- {note}" for note in NOTES)]
    lines += ["", f"Machine: {result['machine']}; load average (1 min) at start / end: {result['load']}", ""]
    return "\n".join(lines)


def arguments(quick_help: str) -> argparse.ArgumentParser:
    """The options of both recommender-quality benchmarks: --quick, --out, --seeds and --render."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_args(parser, quick_help)
    parser.add_argument("--seeds", type=int, help="runs per model (seeds 42, 43, ...); default 3, --quick 1")
    parser.add_argument("--render", action="store_true", help="only rewrite the Markdown from the JSON results")
    return parser


def seeds_of(args: argparse.Namespace) -> list[int]:
    """Seeds 42, 43, ...: ``--seeds`` of them, else 3 (--quick: 1)."""
    return list(range(42, 42 + (args.seeds or (1 if args.quick else 3))))


def main() -> None:
    args = arguments(f"{QUICK_USERS} sampled users, one seed (a smoke test; not recorded)").parse_args()
    out = output_dir(args, NAME)
    if args.render:
        return rerender(out, NAME, markdown)
    if args.quick:
        require_data(DATA)
    seeds = seeds_of(args)
    load_start = os.getloadavg()[0]
    ml = sample_users(load(), QUICK_USERS) if args.quick else load()
    config_losses = load_models_settings(REPO / "config").recommender.candidates.losses
    sample = f" Quick run: {QUICK_USERS} sampled users." if args.quick else ""
    result = {
        "protocol_note": (
            f"Seeds {seeds}. Part 2: config/models.yaml hyper-parameters, k_candidates={K_CANDIDATES}, "
            f"no recency decay, ranker labels = latest {LABEL_SHARE:.0%} of each user's ua.base ratings, ensemble = "
            f"{ENSEMBLE}, ranker {RANKER} with candidate weight {CANDIDATE_WEIGHT}. LightFM on identity features, "
            f"user and film features to the ranker. Relevant items: every ua.test rating.{sample}"
        ),
        "docs_protocol": docs_protocol(ml, seeds),
        "validation": validation(ml, seeds[:1]),
        "contenders": contenders(ml, seeds, config_losses),
        "throughput": throughput(ml),
        "machine": machine_line(),
    }
    result["load"] = load_line(load_start)
    publish(out, NAME, result, markdown(result))


if __name__ == "__main__":
    main()
