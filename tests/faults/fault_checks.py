"""Checks of the fault trials: is every partition of the lake whole, is its content the reference
run's, did a refused command leave every file as it was, does the registry hold one judged
version per run key."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "_SUCCESS.json"


# -- the lake ------------------------------------------------------------------------------------------


def manifests(root: Path) -> dict[str, dict[str, object]]:
    """Partition folder (relative to ``root``) -> its parsed manifest, for every committed partition."""
    found = {}
    for path in sorted(root.rglob(MANIFEST)):
        folder = str(path.parent.relative_to(root))
        try:
            found[folder] = json.loads(path.read_text())
        except ValueError:
            found[folder] = {"corrupt": True}
    return found


def broken_partitions(root: Path) -> list[str]:
    """Each committed partition that a reader could not take whole (empty when the lake is sound).

    A folder without a manifest is absent to readers; one with a manifest must name files that
    exist, read back with the manifest's row count; every other JSON object must parse.
    """
    problems = []
    for folder, manifest in manifests(root).items():
        files = manifest.get("files")
        if not isinstance(files, list):
            problems.append(f"{folder}: corrupt manifest")
            continue
        try:
            rows = sum(pq.ParquetFile(root / folder / str(name)).metadata.num_rows for name in files)
        except (OSError, pa.ArrowInvalid) as exc:
            problems.append(f"{folder}: {type(exc).__name__} {str(exc)[:80]}")
            continue
        if rows != manifest.get("rows"):
            problems.append(f"{folder}: {rows} rows, manifest says {manifest.get('rows')}")
    for path in root.rglob("*.json"):
        if path.name != MANIFEST and ".tmp-" not in path.name:
            try:
                json.loads(path.read_bytes())
            except ValueError:
                problems.append(f"{path.relative_to(root)}: not valid JSON")
    return problems


def content_digest(root: Path, folder: str, manifest: Mapping[str, object]) -> str:
    """A hash of the rows of one committed partition (not of its attempt id or write time)."""
    files = [root / folder / str(name) for name in manifest["files"]]  # type: ignore[attr-defined]
    table = pa.concat_tables(pq.read_table(f) for f in files).replace_schema_metadata(None)
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()[:16]


def fingerprint(root: Path, under: str = "") -> dict[str, str]:
    """Committed partition -> content digest, for the partitions under ``under``."""
    return {
        folder: content_digest(root, folder, manifest)
        for folder, manifest in manifests(root).items()
        if folder.startswith(under)
    }


def file_digests(root: Path) -> dict[str, str]:
    """Every file of the lake -> a hash of its bytes: equal before and after means nothing changed."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def lake_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The files added, removed or rewritten between two :func:`file_digests`."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    problems = [
        f"{label} {paths[0]}" + (f" (+{len(paths) - 1})" if len(paths) > 1 else "")
        for label, paths in (("added", added), ("removed", removed), ("rewrote", changed))
        if paths
    ]
    return problems


def fingerprint_changes(expected: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """How a healed lake differs from the reference run's (empty when the same content)."""
    missing = sorted(set(expected) - set(found))
    different = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    problems = []
    if missing:
        problems.append(f"{len(missing)} partition(s) missing after the rerun, e.g. {missing[0]}")
    if different:
        problems.append(f"{len(different)} partition(s) differ from the reference run, e.g. {different[0]}")
    return problems


# -- the registry ------------------------------------------------------------------------------------


def key_versions(tracking_uri: str, model: str, key: str) -> list[dict[str, str]]:
    """The versions of ``model`` registered under run key ``key``: version number and tags."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.search_model_versions(f"name='{model}' and tags.run_key='{key}'")
    return [{"version": str(v.version), **v.tags} for v in found]


def registry_problems(tracking_uri: str, model: str, key: str) -> list[str]:
    """What breaks "one judged version per key" (empty when the registry holds it).

    Exactly one version carries ``run_key`` = ``key``, it has ``gate_decision`` and
    ``gate_reason``, no run of the key is left RUNNING, and the champion moved to a version of
    the key at most once.
    """
    from mlflow import MlflowClient

    from mlops_platform import registry

    client = MlflowClient(tracking_uri=tracking_uri)
    versions = key_versions(tracking_uri, model, key)
    problems = [] if len(versions) == 1 else [f"{len(versions)} versions for key {key}"]
    problems += [f"v{v['version']} unjudged" for v in versions if not (v.get("gate_decision") and v.get("gate_reason"))]
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"tags.run_key = '{key}'") if experiments else []
    running = [r.info.run_id[:8] for r in runs if r.info.status == "RUNNING"]
    if running:
        problems.append(f"{len(running)} run(s) of the key left RUNNING")
    if versions:
        ours = {v["version"] for v in versions}
        moves = [e for e in registry.history(client, model) if e.alias == registry.CHAMPION and e.to_version in ours]
        if len(moves) > 1:
            problems.append(f"champion moved {len(moves)} times for key {key}")
    return problems


def version_count(tracking_uri: str, model: str) -> int:
    """How many versions ``model`` has (0 when it is not registered)."""
    from mlflow import MlflowClient

    return len(MlflowClient(tracking_uri=tracking_uri).search_model_versions(f"name='{model}'"))


def run_count(tracking_uri: str) -> int:
    """How many runs the tracking store holds, over every experiment."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments, max_results=10_000)) if experiments else 0
