"""Recommender speed: training time, batch top-5 throughput and single-customer latency.

    .venv/bin/python benchmarks/recommender_speed.py            # the record (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/recommender_speed.py --quick    # small sizes; a smoke test, not recorded

Three sizes, one process, measured one after the other:

1. Demo size: the demo's lake (3,000 customers, raw days 2025-01-01 .. 2025-07-19, drift from
   2025-07-06) and ``train_recommender`` as of 2025-07-20 into a throw-away SQLite MLflow, its parts
   timed (the feature snapshots are built first: the feature DAG's work, not the training's). The
   registered version is loaded with ``mlflow.pyfunc.load_model`` and asked for:
   - batch top-5 of every customer of the serving fit, one ``predict`` call: approximate reasons
     (what ``exact_reasons="auto"`` picks above 1,000 customers), exact SHAP reasons, and with the
     customers' profile columns given; and ``Recommender.recommend(explain=False)`` (no reasons);
   - one customer's top-5, ``predict(one-row frame, params={"n": 5})`` (``auto``: exact reasons),
     over customers with a purchase history, after a warm-up: p50 / p99.
2. 100,000 customers: a generated lake of that size (same dates), the serving fit ``fit_at(D)``
   (LightFM + the ranker stage, as ``train_recommender`` fits the registered model), saved with
   ``mlflow.pyfunc.save_model`` and loaded back; the same batch and single-customer figures.
   Named baseline, same run: one ``predict`` call per customer on a sample, extrapolated to every
   customer, against the one batch call (both with approximate reasons, the same output).
   Target: batch top-5 for 100,000 customers under 60 s.
3. MovieLens 100k (ua.base, loaders of ``recommender_quality.py``): the recommender's fit (LightFM
   WARP + the ranker stage) and the same batch / single-customer figures through a saved and
   loaded pyfunc (ids are users, items films; no profile columns).

A cProfile of single-customer calls at 100,000 customers and of the demo batch call is kept in
the results (where the time goes). Tests never assert wall-clock time: this script is the check.
Results: ``benchmarks/results/recommender_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import functools
import io
import json
import os
import pstats
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import (
    REPO,
    Clock,
    add_output_args,
    machine,
    mlops_env,
    output_dir,
    peak_rss_bytes,
    read_results,
    require_data,
    scratch_dir,
    shared_data,
    write_checked,
)

NAME = "recommender_speed"
START = dt.date(2025, 1, 1)
DRIFT_FROM = dt.date(2025, 7, 6)  # the demo's drift day (scripts/demo_airflow.py)
FULL = {
    "demo_customers": 3_000,
    "big_customers": 100_000,
    "days": 200,  # raw 2025-01-01 .. 2025-07-19; trained as of 2025-07-20, as the demo's last week
    "single_calls": 200,
    "warmup_calls": 10,
    "baseline_calls": 500,
    "big_single_calls": 50,  # a call takes about a second at 100,000 customers (see the profile)
    "big_baseline_calls": 100,
    "profile_calls": 20,
    "repeats": 2,
}
QUICK = {
    "demo_customers": 500,
    "big_customers": 3_000,
    "days": 130,
    "single_calls": 30,
    "warmup_calls": 3,
    "baseline_calls": 40,
    "big_single_calls": 20,
    "big_baseline_calls": 20,
    "profile_calls": 10,
    "repeats": 1,
    "movielens_users": 150,  # a seeded sample of MovieLens users (the full run fits all 943)
}
TOP_N = 5
TARGET_SECONDS = 60.0
TARGET_CUSTOMERS = 100_000
PROFILE_LINES = 18


# -- helpers ---------------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return peak_rss_bytes() / 2**20


def percentiles(seconds: list[float]) -> dict[str, float]:
    """p50 / p99 / mean / max of per-call seconds, in milliseconds."""
    import numpy as np

    values = np.asarray(seconds) * 1000.0
    return {
        "calls": len(values),
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "mean_ms": float(values.mean()),
        "max_ms": float(values.max()),
    }


def env_for(folder: Path) -> dict[str, str]:
    """The environment with this benchmark's lake and MLflow store (``MLOPS_*`` overrides)."""
    return mlops_env(folder, config=False)


def ensure_lake(folder: Path, customers: int, days: int) -> dict[str, Any]:
    """Generate the lake under ``folder`` (reused when a previous run made the same one)."""
    from mlops_platform.data.generate import GeneratorConfig, generate_to_store
    from mlops_platform.storage import ObjectStore

    config = GeneratorConfig(customers=customers, days=days, seed=42, start=START, drift_from=_drift(days))
    marker = folder / "generated.json"
    wanted = {"customers": customers, "days": days, "seed": 42, "start": str(START), "drift_from": str(_drift(days))}
    if marker.exists() and json.loads(marker.read_text()).get("config") == wanted:
        return json.loads(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"generating {customers:,} customers x {days} days into {folder}", flush=True)
    with Clock() as clock:
        summary = generate_to_store(ObjectStore((folder / "lake").as_uri()), config)
    record = {"config": wanted, "generate_seconds": clock.seconds, "summary": summary.lines()}
    marker.write_text(json.dumps(record, indent=2))
    return record


def _drift(days: int) -> dt.date | None:
    return DRIFT_FROM if START + dt.timedelta(days=days) > DRIFT_FROM else None


def build_snapshots(env: dict[str, str], days: list[dt.date]) -> dict[str, Any]:
    """Feature snapshots of the cut-off days (what the feature DAG has built before a training)."""
    from mlops_platform.config import load_platform_settings
    from mlops_platform.features.snapshot import build_snapshot, snapshot_partition
    from mlops_platform.storage import ObjectStore

    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    settings = load_platform_settings(REPO / "config", env=env)
    built = []
    with Clock() as clock:
        for day in days:
            if not store.has_partition(snapshot_partition(day)):
                build_snapshot(store, settings, day)
                built.append(str(day))
    return clock.record(built=built)


@contextlib.contextmanager
def timed_calls(targets: list[tuple[Any, str, str]], calls: dict[str, list[dict[str, Any]]]) -> Iterator[None]:
    """Wrap ``owner.attr`` with a timer for the block; each call appends ``{seconds, ...}`` to ``calls[label]``."""
    originals = []
    for owner, attr, label in targets:
        original = getattr(owner, attr)
        originals.append((owner, attr, original))

        def wrap(original: Callable[..., Any], label: str) -> Callable[..., Any]:
            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                result = original(*args, **kwargs)
                entry: dict[str, Any] = {"seconds": time.perf_counter() - began}
                if hasattr(result, "timings_"):  # a fitted Recommender: its own stage times
                    entry["timings"] = dict(result.timings_)
                    entry["cut_off"] = str(args[2]) if len(args) > 2 else None
                calls.setdefault(label, []).append(entry)
                return result

            return timed

        setattr(owner, attr, wrap(original, label))
    try:
        yield
    finally:
        for owner, attr, original in originals:
            setattr(owner, attr, original)


def profile_text(profiler: cProfile.Profile, sort: str, only: str | None = None) -> str:
    """The top of a profile; ``only``: a path pattern the lines must match (e.g. our own code)."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    if only is None:
        stats.strip_dirs().sort_stats(sort).print_stats(PROFILE_LINES)
    else:
        stats.sort_stats(sort).print_stats(only, PROFILE_LINES)
    lines = out.getvalue().replace(str(REPO / "src") + "/", "").splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(line.rstrip() for line in lines[start:] if line.strip())


def per_call_costs(rec: Any, repeats: int = 20) -> dict[str, float]:
    """Milliseconds of pieces every single-customer call pays, measured alone on this fit.

    - an XGBoost ``DMatrix`` of 5 ranker rows (what ``Ranker.contributions`` builds), with
      XGBoost's default threads and with ``nthread=1``;
    - ``user_column`` (the customer's segment out of the whole users frame; ``recommend`` calls
      it several times per call) and the LightFM feature row of one customer
      (``FeatureSpace.matrix`` reads every user's tokens).
    """
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    from mlops_platform.models.recommender.ranker import user_column

    fitted = rec.stage_
    one = fitted.users.ids[:1]
    frame = pd.DataFrame(
        np.random.default_rng(0).random((5, len(rec.ranker_.features_))), columns=rec.ranker_.features_
    )
    pieces: dict[str, Callable[[], Any]] = {
        "dmatrix_5_rows_default_threads_ms": lambda: xgb.DMatrix(frame),
        "dmatrix_5_rows_nthread_1_ms": lambda: xgb.DMatrix(frame, nthread=1),
        "user_column_one_customer_ms": lambda: user_column(fitted.frame, one, "segment"),
        "feature_row_one_customer_ms": lambda: fitted.space.matrix(one, fitted.tokens, identity=True),
    }
    out = {}
    for name, call in pieces.items():
        call()
        began = time.perf_counter()
        for _ in range(repeats):
            call()
        out[name] = (time.perf_counter() - began) / repeats * 1000.0
    return out


# -- what is measured on a loaded pyfunc -------------------------------------------------------------


def profile_frame(env: dict[str, str], day: dt.date, ids: Any) -> Any:
    """``customer_id`` and the optional profile columns of ``ids`` from the snapshot of ``day``."""
    import pandas as pd

    from mlops_platform.features.snapshot import read_snapshot
    from mlops_platform.models.recommender.pyfunc import CONTEXT_TYPES
    from mlops_platform.storage import ObjectStore

    table = read_snapshot(ObjectStore(env["MLOPS_STORAGE_URI"]), day)
    columns = ["customer_id", *[c for c in CONTEXT_TYPES if c in table.column_names]]
    frame = table.select(columns).to_pandas()
    frame = frame.loc[frame["customer_id"].isin(ids)].reset_index(drop=True)
    for column in columns[1:]:
        kind = CONTEXT_TYPES[column]
        frame[column] = frame[column].astype("float64" if kind == "double" else object)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    return pd.DataFrame(frame)


def per_call(predict: Callable[[Any], Any], ids: Any) -> list[float]:
    """Wall seconds of one top-5 call per id (a one-row frame each)."""
    import pandas as pd

    seconds = []
    for customer in ids:
        frame = pd.DataFrame({"customer_id": [int(customer)]})
        began = time.perf_counter()
        predict(frame)
        seconds.append(time.perf_counter() - began)
    return seconds


def serving_figures(
    loaded: Any, size: dict[str, int], profiles: Any | None, exact_batch: bool, baseline: bool
) -> dict[str, Any]:
    """Batch top-5 of every customer and single-customer latency on the loaded pyfunc."""
    import numpy as np
    import pandas as pd

    from mlops_platform.models.recommender.pyfunc import unwrap

    rec = unwrap(loaded).recommender
    ids = rec.stage_.users.ids.astype(np.int64)
    warm = ids[rec.stage_.history.has_history(np.arange(len(ids)))]
    frame = pd.DataFrame({"customer_id": ids})
    out: dict[str, Any] = {"customers": len(ids), "customers_with_history": len(warm)}

    def predict(params: dict[str, Any]) -> Callable[[Any], Any]:
        return lambda data: loaded.predict(data, params=params)

    approx, exact = {"n": TOP_N, "exact_reasons": "false"}, {"n": TOP_N, "exact_reasons": "true"}
    predict(approx)(frame.head(50))  # warm-up: first call pays lazy imports and caches
    batches: dict[str, Callable[[], Any]] = {
        "batch_approx_reasons": lambda: loaded.predict(frame, params=approx),
        "batch_no_reasons": lambda: rec.recommend(ids, n=TOP_N, explain=False),
    }
    if profiles is not None:
        batches["batch_with_profiles_approx_reasons"] = lambda: loaded.predict(profiles, params=approx)
    if exact_batch:
        batches["batch_exact_reasons"] = lambda: loaded.predict(frame, params=exact)
    for name, call in batches.items():
        runs = []
        for _ in range(size["repeats"] if name != "batch_exact_reasons" else 1):
            with Clock() as clock:
                result = call()
            runs.append(clock.record())
        best = min(runs, key=lambda r: r["seconds"])
        customers = len(profiles) if name.startswith("batch_with_profiles") else len(ids)
        out[name] = {
            **best,
            "runs_seconds": [r["seconds"] for r in runs],
            "customers": customers,
            "rows": len(result),
            "customers_per_second": customers / best["seconds"],
        }
        print(f"  {name}: {best['seconds']:.2f} s ({customers / best['seconds']:,.0f} customers/s)", flush=True)
    rng = np.random.default_rng(0)
    picked = rng.choice(warm, size=min(len(warm), size["single_calls"] + size["warmup_calls"]), replace=False)
    per_call(predict({"n": TOP_N}), picked[: size["warmup_calls"]])
    single_ids = picked[size["warmup_calls"] :]
    out["single_auto_exact_reasons"] = percentiles(per_call(predict({"n": TOP_N}), single_ids))
    out["single_approx_reasons"] = percentiles(per_call(predict(approx), single_ids))
    out["single_no_reasons_recommender"] = percentiles(
        per_call(lambda f: rec.recommend(f["customer_id"], n=TOP_N, explain=False), single_ids)
    )
    print(f"  single (exact reasons): {out['single_auto_exact_reasons']}", flush=True)
    if baseline:
        sample = rng.choice(ids, size=min(len(ids), size["baseline_calls"]), replace=False)
        with Clock() as clock:
            per_call(predict(approx), sample)
        per_customer = clock.seconds / len(sample)
        out["baseline_one_call_per_customer"] = clock.record(
            sample=len(sample),
            seconds_per_customer=per_customer,
            extrapolated_seconds=per_customer * len(ids),
            customers_per_second=1.0 / per_customer,
        )
        batch = out["batch_approx_reasons"]["seconds"]
        out["speed_up_over_baseline"] = per_customer * len(ids) / batch
        out["batch_matches_single_calls"] = same_lists(loaded, frame, sample[:20], approx)
        print(f"  baseline: {per_customer * 1000:.1f} ms/customer -> {per_customer * len(ids):.0f} s", flush=True)
    out["per_call_costs"] = per_call_costs(rec)
    return out


def same_lists(loaded: Any, frame: Any, sample: Any, params: dict[str, Any]) -> dict[str, int]:
    """Whether one call per customer returns the products and order of the batch call (a sample)."""
    import pandas as pd

    batch = loaded.predict(frame.loc[frame["customer_id"].isin(sample)], params=params)
    same = 0
    for customer in sample:
        one = loaded.predict(pd.DataFrame({"customer_id": [int(customer)]}), params=params)
        mine = batch.loc[batch["customer_id"] == customer, "product_id"].tolist()
        same += int(mine == one["product_id"].tolist())
    return {"customers": len(sample), "same_top5": same}


# -- the three sizes ----------------------------------------------------------------------------------


def demo_size(work: Path, size: dict[str, int]) -> dict[str, Any]:
    """``train_recommender`` on the demo lake, its parts timed; serving figures on the registered pyfunc."""
    import mlflow

    from mlops_platform.config import load_models_settings, load_platform_settings
    from mlops_platform.models.recommender.evaluation import CutOffs
    from mlops_platform.pipelines import recommender_data as lake
    from mlops_platform.pipelines import train_recommender as rt
    from mlops_platform.registry import tracking
    from mlops_platform.storage import ObjectStore

    folder = work / "demo"
    generated = ensure_lake(folder, size["demo_customers"], size["days"])
    for stale in ("mlflow.db", "mlruns"):  # an empty registry: the first version, no champion to re-fit
        path = folder / stale
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    env = env_for(folder)
    as_of = START + dt.timedelta(days=size["days"])
    models = load_models_settings(REPO / "config", env=env)
    cut_offs = CutOffs(as_of, models.recommender.ranker.horizon_days)
    snapshots = build_snapshots(env, cut_offs.snapshot_days)
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    parts: dict[str, list[dict[str, Any]]] = {}
    targets = [
        (lake, "read_tables", "read_tables"),
        (rt, "fit_at", "fit_at"),
        (rt, "evaluate", "evaluate"),
        (rt, "_log", "_log"),
        (tracking, "log_model_version", "log_model_version"),
        (rt, "_gate", "_gate"),
    ]
    print(f"demo: train_recommender as of {as_of}", flush=True)
    with timed_calls(targets, parts), Clock() as clock:
        outcome = rt.train_recommender(
            store, load_platform_settings(REPO / "config", env=env), models, as_of, run_key="speed-benchmark"
        )
    training = clock.record(version=outcome.version, parts=parts, metrics=dict(outcome.metrics or {}))
    mlflow.set_tracking_uri(env["MLOPS_TRACKING_URI"])
    with Clock() as load:
        loaded = mlflow.pyfunc.load_model(f"models:/recommender/{outcome.version}")
    from mlops_platform.models.recommender.pyfunc import unwrap

    ids = unwrap(loaded).recommender.stage_.users.ids
    profiles = profile_frame(env, as_of, ids)
    serving = serving_figures(loaded, size, profiles, exact_batch=True, baseline=True)
    profiler = cProfile.Profile()
    frame = profiles[["customer_id"]]
    profiler.runcall(loaded.predict, frame, params={"n": TOP_N, "exact_reasons": "false"})
    serving["profile_batch_approx"] = profile_text(profiler, "cumulative")
    return {
        "lake": generated,
        "as_of": str(as_of),
        "snapshots": snapshots,
        "training": training,
        "load_model": load.record(),
        "serving": serving,
        "peak_rss_mb": _peak_rss_mb(),
    }


def big_size(work: Path, size: dict[str, int]) -> dict[str, Any]:
    """The serving fit on a lake of ``big_customers``; batch against one call per customer."""
    import mlflow

    from mlops_platform.config import load_models_settings
    from mlops_platform.models.recommender.evaluation import fit_at
    from mlops_platform.models.recommender.pyfunc import RecommenderPyfunc, signature
    from mlops_platform.pipelines import recommender_data as lake
    from mlops_platform.registry.tracking import pip_requirements
    from mlops_platform.storage import ObjectStore

    folder = work / "big"
    generated = ensure_lake(folder, size["big_customers"], size["days"])
    env = env_for(folder)
    as_of = START + dt.timedelta(days=size["days"])
    settings = load_models_settings(REPO / "config", env=env).recommender
    days = [as_of - dt.timedelta(days=settings.ranker.horizon_days), as_of]
    snapshots = build_snapshots(env, days)
    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    with Clock() as read:
        tables = lake.read_tables(store, as_of, days)
    print(f"big: fit_at({as_of}) on {size['big_customers']:,} customers", flush=True)
    with Clock() as fit:
        rec = fit_at(settings, tables, as_of)
    names = dict(zip(tables.products["product_id"].astype(int), tables.products["name"].astype(str), strict=True))
    path = folder / "model"
    shutil.rmtree(path, ignore_errors=True)
    with Clock() as save:
        mlflow.pyfunc.save_model(
            str(path),
            python_model=RecommenderPyfunc(rec, names),
            signature=signature(settings.top_n),
            pip_requirements=pip_requirements(),
        )
    with Clock() as load:
        loaded = mlflow.pyfunc.load_model(str(path))
    profiles = profile_frame(env, as_of, rec.stage_.users.ids)
    calls = {**size, "single_calls": size["big_single_calls"], "baseline_calls": size["big_baseline_calls"]}
    serving = serving_figures(loaded, calls, profiles, exact_batch=False, baseline=True)
    profiler = cProfile.Profile()
    ids = serving_ids(rec, size["profile_calls"])
    profiler.runcall(per_call, lambda f: loaded.predict(f, params={"n": TOP_N}), ids)
    serving["profile_single_calls"] = {
        "calls": len(ids),
        "text": profile_text(profiler, "tottime"),
        "ours": profile_text(profiler, "cumulative", only="src/mlops_platform"),
    }
    return {
        "lake": generated,
        "as_of": str(as_of),
        "how": "a real fit on a generated lake of this many customers (the demo's dates and seed)",
        "transactions_before_as_of": len(tables.transactions),
        "products": len(tables.products),
        "snapshots": snapshots,
        "read_tables": read.record(),
        "fit": fit.record(timings=dict(rec.timings_)),
        "save_model": save.record(bytes=sum(f.stat().st_size for f in path.rglob("*") if f.is_file())),
        "load_model": load.record(),
        "serving": serving,
        "peak_rss_mb": _peak_rss_mb(),
    }


def serving_ids(rec: Any, n: int) -> Any:
    import numpy as np

    ids = rec.stage_.users.ids
    warm = ids[rec.stage_.history.has_history(np.arange(len(ids)))]
    return np.random.default_rng(1).choice(warm, size=min(n, len(warm)), replace=False)


def movielens(work: Path, size: dict[str, int]) -> dict[str, Any]:
    """The recommender on MovieLens 100k ua.base: fit, then the serving figures through a pyfunc."""
    import mlflow
    import recommender_quality as rq

    from mlops_platform.models.recommender.model import Recommender
    from mlops_platform.models.recommender.pyfunc import RecommenderPyfunc, signature
    from mlops_platform.registry.tracking import pip_requirements

    ml = rq.load()
    if "movielens_users" in size:
        ml = rq.sample_users(ml, size["movielens_users"])
    serving, ranker = rq.stages(ml)
    settings = rq.movielens_settings({"warp": 1.0}, 42)
    print("movielens: fit", flush=True)
    with Clock() as fit:
        rec = Recommender(settings).fit(ml.items, ml.item_tokens, serving, ranker)
    names = dict(zip(ml.items["item_id"].astype(int), ml.items["name"].astype(str), strict=True))
    path = work / "movielens" / "model"
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    mlflow.pyfunc.save_model(
        str(path),
        python_model=RecommenderPyfunc(rec, names),
        signature=signature(TOP_N),
        pip_requirements=pip_requirements(),
    )
    with Clock() as load:
        loaded = mlflow.pyfunc.load_model(str(path))
    figures = serving_figures(loaded, size, None, exact_batch=True, baseline=True)
    return {
        "data": f"ua.base: {len(ml.train):,} ratings, {ml.train['user_id'].nunique():,} users, {len(ml.items):,} films",
        "settings": "recommender_quality.movielens_settings({'warp': 1.0}, seed 42): config hyper-parameters, "
        "k_candidates 100, no recency decay, purchases excluded",
        "fit": fit.record(timings=dict(rec.timings_)),
        "load_model": load.record(),
        "serving": figures,
        "peak_rss_mb": _peak_rss_mb(),
    }


# -- report ----------------------------------------------------------------------------------------------


def checks(result: dict[str, Any]) -> list[dict[str, Any]]:
    big = result["big"]["serving"]
    customers = big["customers"]
    batch = big["batch_approx_reasons"]["seconds"]
    scaled = batch * TARGET_CUSTOMERS / customers
    base = big["baseline_one_call_per_customer"]["extrapolated_seconds"]
    return [
        {
            "name": f"batch top-5 of {customers:,} customers, one predict call (approximate reasons)",
            "measured": batch,
            "target": f"< {TARGET_SECONDS:g} s" + ("" if customers >= TARGET_CUSTOMERS else " (scaled to 100,000)"),
            "passed": scaled < TARGET_SECONDS,
        },
        {
            "name": "the same batch vs the baseline: one predict call per customer, extrapolated",
            "measured": batch,
            "target": f"< {base:.1f} s",
            "passed": batch < base,
        },
    ]


def _ms(figures: dict[str, float]) -> str:
    return f"{figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms"


def _batch(part: dict[str, Any], name: str) -> str:
    figures = part.get(name)
    if figures is None:
        return "-"
    return f"{figures['seconds']:.2f} s [CPU {figures['cpu_seconds']:.1f}] ({figures['customers_per_second']:,.0f}/s)"


def markdown(result: dict[str, Any]) -> str:
    demo, big, ml = result["demo"], result["big"], result["movielens"]
    m = result["machine"]
    lines = [
        "# Recommender speed: training, batch top-5, single-customer latency",
        "",
        f"Run {result['finished_at']}; `{result['command']}`; {m['cpus']} CPUs shared with other work "
        f"(load average {m['load_average_at_start'][0]:.1f} at start, {m['load_average_at_end'][0]:.1f} at end); "
        f"Python {m['python']}; code {m['code']}. Wall seconds; one process, the parts one after the other.",
        "",
        "| check | measured | target | result |",
        "| --- | --- | --- | --- |",
    ]
    for check in result["checks"]:
        result_word = "PASS" if check["passed"] else "MISS"
        lines.append(f"| {check['name']} | {check['measured']:.2f} s | {check['target']} | {result_word} |")
    lines += ["", "## Training", ""]
    t = demo["training"]
    fits = t["parts"].get("fit_at", [])
    lines.append(
        f"- Demo size ({demo['serving']['customers']:,} customers, as of {demo['as_of']}): `train_recommender` "
        f"{t['seconds']:.1f} s on an empty registry. Parts: "
        + "; ".join(_part(name, calls) for name, calls in t["parts"].items())
        + "."
    )
    for entry in fits:
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in entry.get("timings", {}).items())
        lines.append(f"  - `fit_at({entry['cut_off']})`: {entry['seconds']:.1f} s ({timings})")
    lines.append(
        "  - Before it, not in the figure: feature snapshots of the 3 cut-off days "
        f"{demo['snapshots']['seconds']:.1f} s "
        f"(built: {', '.join(demo['snapshots']['built']) or 'none, already there'}); loading the registered "
        f"version {demo['load_model']['seconds']:.1f} s."
    )
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in big["fit"]["timings"].items())
    lines.append(
        f"- {big['serving']['customers']:,} customers ({big['transactions_before_as_of']:,} transactions, "
        f"{big['products']} products): the serving fit `fit_at({big['as_of']})` {big['fit']['seconds']:.1f} s "
        f"({timings}); reading the tables {big['read_tables']['seconds']:.1f} s; `save_model` "
        f"{big['save_model']['seconds']:.1f} s ({big['save_model']['bytes'] / 1e6:.0f} MB), `load_model` "
        f"{big['load_model']['seconds']:.1f} s. {big['how'].capitalize()}; lake generated in "
        f"{big['lake'].get('generate_seconds', float('nan')):.0f} s."
    )
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in ml["fit"]["timings"].items())
    lines.append(f"- MovieLens ({ml['data']}): fit {ml['fit']['seconds']:.1f} s ({timings}). {ml['settings']}.")
    lines += [
        "",
        "## Serving: the loaded pyfunc (`mlflow.pyfunc.load_model`), top-5",
        "",
        "Batch: one call for every customer of the serving fit, best of the runs: wall seconds, [CPU seconds of "
        "the process], (customers per second). The profile row covers the customers of the snapshot of the "
        "cut-off (active ones). Single: one customer with a purchase history per call, after a warm-up, p50 / p99.",
        "",
        "| | demo | " + f"{big['serving']['customers']:,} customers | MovieLens |",
        "| --- | --- | --- | --- |",
        "| customers | " + " | ".join(f"{p['serving']['customers']:,}" for p in (demo, big, ml)) + " |",
    ]
    rows = [
        ("batch, approximate reasons", "batch_approx_reasons"),
        ("batch, exact (SHAP) reasons", "batch_exact_reasons"),
        ("batch, profile columns given, approximate reasons", "batch_with_profiles_approx_reasons"),
        ("batch, no reasons (`Recommender.recommend(explain=False)`)", "batch_no_reasons"),
    ]
    for label, name in rows:
        lines.append(f"| {label} | " + " | ".join(_batch(p["serving"], name) for p in (demo, big, ml)) + " |")
    for label, name in (
        ("single, `params={'n': 5}` (auto: exact reasons)", "single_auto_exact_reasons"),
        ("single, approximate reasons", "single_approx_reasons"),
        ("single, no reasons, `Recommender.recommend`", "single_no_reasons_recommender"),
    ):
        lines.append(f"| {label} | " + " | ".join(_ms(p["serving"][name]) for p in (demo, big, ml)) + " |")
    lines.append(
        "| baseline: one predict call per customer (approximate reasons), extrapolated | "
        + " | ".join(_baseline(p["serving"]) for p in (demo, big, ml))
        + " |"
    )
    lines.append(
        "| batch speed-up over the baseline | "
        + " | ".join(f"x{p['serving']['speed_up_over_baseline']:.0f}" for p in (demo, big, ml))
        + " |"
    )
    lines.append(
        "| batch and single calls give the same top-5 (sample) | "
        + " | ".join(
            f"{p['serving']['batch_matches_single_calls']['same_top5']}/"
            f"{p['serving']['batch_matches_single_calls']['customers']}"
            for p in (demo, big, ml)
        )
        + " |"
    )
    for label, name in (
        ("piece: `DMatrix` of 5 ranker rows, XGBoost's default threads", "dmatrix_5_rows_default_threads_ms"),
        ("piece: the same `DMatrix` with `nthread=1`", "dmatrix_5_rows_nthread_1_ms"),
        ("piece: `user_column` for one customer (whole users frame)", "user_column_one_customer_ms"),
        ("piece: LightFM feature row of one customer (every user's tokens)", "feature_row_one_customer_ms"),
    ):
        lines.append(
            f"| {label} | "
            + " | ".join(f"{p['serving']['per_call_costs'][name]:.1f} ms" for p in (demo, big, ml))
            + " |"
        )
    lines += [
        "",
        f"Peak memory of the process: {demo['peak_rss_mb']:,.0f} MB after the demo part, "
        f"{big['peak_rss_mb']:,.0f} MB after the {big['serving']['customers']:,}-customer part.",
        "",
        f"## Where single-customer time goes at {big['serving']['customers']:,} customers "
        f"(cProfile of {big['serving']['profile_single_calls']['calls']} calls, by own time)",
        "",
        "```",
        big["serving"]["profile_single_calls"]["text"],
        "```",
        "",
        "The same calls, our code only (cumulative):",
        "",
        "```",
        big["serving"]["profile_single_calls"]["ours"],
        "```",
        "",
        "## Where the demo batch call goes (cProfile, approximate reasons, cumulative)",
        "",
        "```",
        demo["serving"]["profile_batch_approx"],
        "```",
        "",
    ]
    if result.get("findings"):
        lines += ["## Findings", "", *[f"- {line}" for line in result["findings"]], ""]
    return "\n".join(lines)


def _part(name: str, calls: list[dict[str, Any]]) -> str:
    seconds = [c["seconds"] for c in calls]
    return f"{name} {sum(seconds):.1f} s" + (f" ({len(seconds)} calls)" if len(seconds) > 1 else "")


def _baseline(serving: dict[str, Any]) -> str:
    base = serving["baseline_one_call_per_customer"]
    each = base["seconds_per_customer"] * 1000
    return f"{base['extrapolated_seconds']:.1f} s ({each:.1f} ms x {serving['customers']:,})"


def write_report(result: dict[str, Any], out: Path, enforce: bool = True) -> int:
    """Checks, JSON and Markdown into ``out``; exit code 1 when the target is missed (``enforce``: full runs)."""
    result["checks"] = checks(result)
    return write_checked(out, NAME, result, markdown, enforce)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_args(parser, "small sizes (a smoke test; figures go to the work folder or --out, not results/)")
    parser.add_argument("--work", type=Path, help="scratch folder (lakes, registry); default: a temporary one")
    parser.add_argument("--report-only", action="store_true", help="rebuild the Markdown from the recorded JSON")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    work = args.work or scratch_dir(NAME + ("_quick" if args.quick else ""))
    out = output_dir(args, NAME, quick_default=work)
    if args.report_only:
        return write_report(read_results(out, NAME), out, enforce=not args.quick)
    require_data(shared_data() / "movielens_100k")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/recommender_speed.py", *sys.argv[1:]]),
        "sizes": size,
        "machine": machine("python", "cpus", "code", "load_average_at_start"),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    work.mkdir(parents=True, exist_ok=True)
    partial = work / "recommender_speed.partial.json"  # what a crash leaves behind
    for name, part in (("demo", demo_size), ("big", big_size), ("movielens", movielens)):
        result[name] = part(work, size)
        result["machine"][f"load_average_after_{name}"] = os.getloadavg()
        partial.write_text(json.dumps(result, indent=2, default=str) + "\n")
    result["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["machine"]["load_average_at_end"] = os.getloadavg()
    return write_report(result, out, enforce=not args.quick)


if __name__ == "__main__":
    sys.exit(main())
