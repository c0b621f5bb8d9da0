"""Run the platform on this machine, no Docker (``make run``); Ctrl-C or SIGTERM stops it all.

Starts, each in its own process group with its output in ``<home>/.run/logs/<service>.log``:

- MLflow on 127.0.0.1:5000: SQLite ``<home>/mlflow-server.db``, artifacts served from
  ``<home>/mlartifacts``, webhooks allowed to post to loopback;
- Airflow 3 on 127.0.0.1:8080 (api-server, scheduler, dag-processor, triggerer): SQLite metadata
  and LocalExecutor in ``<home>/.airflow``, DAGs from ``dags/``, user ``admin`` with a password
  generated once; every setting is an ``AIRFLOW__SECTION__KEY`` variable;
- the alias-webhook receiver (``mlops webhook serve``) on 127.0.0.1:5055, registered with MLflow;
  a champion move triggers ``daily_scoring``;
- online serving (``mlops serve``) on 127.0.0.1:8000, its ``/v1/notify`` registered with MLflow too
  (a moved alias is served at once); skipped with a warning when the port is taken.

Demo data goes into ``<home>/lake`` when it holds nothing (``MLOPS_GENERATOR_*`` variables size
it): a seeded history that ends yesterday (UTC), marked as a demo lake by ``_demo.json``. A demo
lake from an earlier start is extended to yesterday (``mlops data extend``), never replaced; a
lake without the marker (real data) is not touched. A demo lake then gets the snapshots of the
last days and its newest closed labels before the URLs are printed, and feature_recalculation's
``demo_feed`` task commits each new day afterwards. Every task sees ``MLFLOW_TRACKING_URI`` and
``MLOPS_STORAGE_URI``; MLflow's telemetry is off. The URLs and the login are printed once every
service answers its health check.

Usage: ``python scripts/run_platform.py [--home DIR] [--dags-folder DIR] [--airflow-port N] ...``
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.metadata
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import requests
from supervisor import HOST, Fatal, Platform, Service, become_subreaper, check_ports, clear_stale_run, descendants

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ADMIN = "admin"
# MLflow 3 opens on its GenAI pages; this page is the model registry in the "model training" workflow.
MLFLOW_REGISTRY_PAGE = "/#/models?workflowType=machine_learning"
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def private_file(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``, created with ``make()`` and mode 600 if missing."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(make())
    return path.read_text().strip()


def admin_password(platform: Platform) -> tuple[str, Path]:
    """The Airflow admin password: generated once into the simple auth manager's passwords file."""
    path = platform.airflow_home / "simple_auth_manager_passwords.json.generated"
    passwords = json.loads(private_file(path, lambda: json.dumps({ADMIN: secrets.token_urlsafe(12)})) or "{}")
    if ADMIN not in passwords:
        passwords[ADMIN] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(passwords))
    return passwords[ADMIN], path


# -- the environment --------------------------------------------------------------------------


def base_env(platform: Platform) -> dict[str, str]:
    """What every child sees: the venv first on PATH, the platform's MLflow, lake and config."""
    env = dict(os.environ)
    env.pop("MLOPS_TRACKING_URI", None)  # MLFLOW_TRACKING_URI below is the platform's server
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        MLFLOW_TRACKING_URI=platform.url("mlflow"),
        MLOPS_STORAGE_URI=f"file://{platform.home / 'lake'}",
        MLOPS_CONFIG_DIR=str(REPO / "config"),
    )
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # the server, the CLI and every task
    return env


def airflow_env(platform: Platform, password_file: Path) -> dict[str, str]:
    """Airflow 3 on SQLite with the LocalExecutor, every listener on 127.0.0.1."""
    home = platform.airflow_home
    jwt_secret = private_file(home / "jwt-secret", lambda: secrets.token_urlsafe(64))
    settings = {
        "CORE__DAGS_FOLDER": str(platform.dags),
        "CORE__LOAD_EXAMPLES": "False",
        "CORE__EXECUTOR": "LocalExecutor",
        "CORE__AUTH_MANAGER": SIMPLE_AUTH,
        "CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
        "CORE__EXECUTION_API_SERVER_URL": f"{platform.url('airflow')}/execution/",
        "DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "API_AUTH__JWT_SECRET": jwt_secret,  # one key for the api-server and the scheduler, 64 bytes
        "API__HOST": HOST,
        "API__PORT": str(platform.ports["airflow"]),
        "API__BASE_URL": platform.url("airflow"),
        "API__WORKERS": "1",
        # The log servers of the scheduler's workers and of the triggerer bind every interface in
        # Airflow 3.3 (no host setting): they are not started (--skip-serve-logs), and the
        # api-server reads the task logs from <home>/.airflow/logs on this machine instead.
        "SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": HOST,
    }
    env = base_env(platform)
    env["AIRFLOW_HOME"] = str(home)
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")  # each LocalExecutor worker is a process, started at once
    # A task's first call of the execution API can take half a minute on a busy machine; after the
    # default 5 s the worker retries a call the server already applied, and the task fails.
    env.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60")
    env.update({f"AIRFLOW__{key}": value for key, value in settings.items()})
    return env


# -- the services -----------------------------------------------------------------------------


def http_ok(url: str, accept: Callable[[requests.Response], bool] = lambda r: r.status_code == 200) -> bool:
    return accept(requests.get(url, timeout=3))


def airflow_healthy(platform: Platform) -> bool:
    """Every component healthy, and the execution API (the tasks' channel) answering: its first
    answer loads it, so that the first task does not pay for it."""
    health = requests.get(f"{platform.url('airflow')}/api/v2/monitor/health", timeout=3).json()
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    if not all((health.get(part) or {}).get("status") == "healthy" for part in parts):
        return False
    return http_ok(f"{platform.url('airflow')}/execution/health", lambda r: r.status_code == 200)


def start_mlflow(platform: Platform, env: dict[str, str]) -> Service:
    """MLflow on SQLite, artifacts served from <home>/mlartifacts, webhooks allowed to reach loopback."""
    # MLflow encrypts each webhook's secret with this key; without a fixed one it draws a new key at
    # every start and cannot read the webhooks it stored before (list_webhooks answers 500).
    fernet_key = private_file(
        platform.run_dir / "mlflow-webhook-key", lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()
    )
    env = {**env, "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}
    env["MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY"] = fernet_key
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # GenAI job runners: 7 processes we do not use
    argv = [str(BIN / "mlflow"), "server", "--host", HOST, "--port", str(platform.ports["mlflow"])]
    argv += ["--backend-store-uri", f"sqlite:///{platform.home / 'mlflow-server.db'}"]
    argv += ["--artifacts-destination", str(platform.home / "mlartifacts"), "--workers", "1"]
    return platform.start("mlflow", argv, env)


def ensure_experiment(platform: Platform) -> None:
    """Create the platform's experiment with the server's artifact root, before any client does."""
    from mlops_platform.config import load_models_settings

    name = load_models_settings(REPO / "config").tracking.experiment
    api = f"{platform.url('mlflow')}/api/2.0/mlflow/experiments"
    if requests.get(f"{api}/get-by-name", params={"experiment_name": name}, timeout=10).status_code == 200:
        return
    response = requests.post(f"{api}/create", json={"name": name}, timeout=10)
    if response.status_code != 200:
        raise Fatal(f"MLflow refused to create experiment {name!r}: {response.status_code} {response.text[:200]}")


def migrate_airflow(platform: Platform, env: dict[str, str]) -> float | None:
    """``airflow db migrate`` unless this Airflow version already migrated this home's database."""
    marker = platform.airflow_home / ".migrated"
    version = importlib.metadata.version("apache-airflow")
    if (platform.airflow_home / "airflow.db").exists() and marker.exists() and marker.read_text() == version:
        return None
    took = platform.run_once("airflow-db-migrate", [str(BIN / "airflow"), "db", "migrate"], env)
    marker.write_text(version)
    return took


def lake_needs_data(platform: Platform) -> bool:
    """True if the lake has no raw partition yet, or an earlier generation was interrupted."""
    raw = platform.home / "lake" / "raw"
    unfinished = platform.run_dir / "generate.unfinished"
    return unfinished.exists() or not any(raw.glob("*/date=*/_SUCCESS.json"))


def is_demo_lake(platform: Platform) -> bool:
    """A lake ``mlops data generate`` made (it wrote ``_demo.json``); any other lake is real data."""
    from mlops_platform.data.generate import DEMO_MARKER

    return (platform.home / "lake" / DEMO_MARKER).is_file()


def demo_data_command(platform: Platform) -> list[str] | None:
    """Generate a history ending yesterday into an empty lake, extend a demo lake, leave a real one."""
    if lake_needs_data(platform):
        (platform.run_dir / "generate.unfinished").touch()
        return [str(BIN / "mlops"), "data", "generate", "--end", "yesterday"]
    if is_demo_lake(platform):
        return [str(BIN / "mlops"), "data", "extend", "--through", "yesterday"]
    return None


def warm_up_demo_lake(platform: Platform, env: dict[str, str]) -> None:
    """The snapshots of the last days and the newest closed labels of a demo lake (missing ones only)."""
    from mlops_platform.config import load_platform_settings
    from mlops_platform.orchestration.plans import warmup_dates
    from mlops_platform.storage import ObjectStore

    store = ObjectStore(env["MLOPS_STORAGE_URI"])
    horizon = load_platform_settings(REPO / "config", env=env).labels.longest_horizon_days
    days = store.list_dates("raw/transactions")
    snapshots, labels = warmup_dates(days, horizon)
    for dataset, dates, verb in (("features/customer", snapshots, "build"), ("labels/customer", labels, "labels")):
        have = set(store.list_dates(dataset))
        for day in (d for d in dates if d not in have):
            argv = [str(BIN / "mlops"), "features", verb, "--date", day.isoformat()]
            argv += ["--no-validate-raw"] if verb == "build" else []  # generated data, valid by construction
            took = platform.run_once(f"demo-{verb}-{day}", argv, env)
            print(f"{dataset} date={day}: {took:.0f} s")


def start_platform(platform: Platform, serving_port: int = 8000) -> None:
    env = base_env(platform)
    password, password_file = admin_password(platform)
    secret = private_file(platform.run_dir / "webhook-secret", lambda: secrets.token_urlsafe(32))
    af_env = airflow_env(platform, password_file)
    started = time.monotonic()

    mlflow = start_mlflow(platform, env)
    generate, demo = None, demo_data_command(platform)
    if demo is not None:
        generate = platform.start(f"mlops-data-{demo[2]}", demo, env)
        print(f"mlops data {demo[2]}: demo data into {platform.home / 'lake'} up to yesterday (log {generate.log})")
    else:
        print(f"{platform.home / 'lake'} holds real data (no _demo.json): left as it is")
    took = migrate_airflow(platform, af_env)
    print("airflow db migrate: up to date" if took is None else f"airflow db migrate: {took:.0f} s")
    airflow = [
        platform.start("airflow-api-server", [str(BIN / "airflow"), "api-server"], af_env),
        platform.start("airflow-scheduler", [str(BIN / "airflow"), "scheduler", "--skip-serve-logs"], af_env),
        platform.start("airflow-dag-processor", [str(BIN / "airflow"), "dag-processor"], af_env),
        platform.start("airflow-triggerer", [str(BIN / "airflow"), "triggerer", "--skip-serve-logs"], af_env),
    ]

    took = platform.wait_healthy([mlflow], lambda: http_ok(f"{platform.url('mlflow')}/health"), "MLflow /health")
    print(f"MLflow answers after {took:.0f} s")
    ensure_experiment(platform)
    receiver_env = {**env, "MLOPS_WEBHOOK_SECRET": secret, **credentials(platform, password)}
    receiver_argv = [str(BIN / "mlops"), "webhook", "serve", "--host", HOST]
    receiver_argv += ["--port", str(platform.ports["receiver"]), "--no-register"]
    receiver_argv += ["--deliveries", str(platform.run_dir / "webhook-deliveries.log")]
    receiver = platform.start("webhook-receiver", receiver_argv, receiver_env)
    hook_url = f"{platform.url('receiver')}/mlflow-webhook"
    took = platform.wait_healthy([receiver], lambda: http_ok(hook_url, lambda r: r.status_code < 600), "the receiver")
    platform.run_once("webhook-register", [str(BIN / "mlops"), "webhook", "register", hook_url], receiver_env)
    print(f"webhook receiver answers after {took:.0f} s; registered with MLflow")

    serving = start_serving(platform, serving_port, {**env, "MLOPS_WEBHOOK_SECRET": secret}, receiver_env)

    took = platform.wait_healthy(airflow, lambda: airflow_healthy(platform), "Airflow /api/v2/monitor/health")
    print(f"Airflow answers after {took:.0f} s")
    if generate is not None:
        while generate.process.poll() is None:
            platform.sleep(0.5)
        platform.services.remove(generate)
        if generate.process.returncode != 0:
            raise Fatal(f"{generate.name} failed; log {generate.log}:\n{generate.tail()}")
        (platform.run_dir / "generate.unfinished").unlink(missing_ok=True)
        print(f"demo data up to yesterday ({generate.name})")
        warm_up_demo_lake(platform, env)
    banner(platform, password, password_file, hook_url, time.monotonic() - started, serving)


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def start_serving(platform: Platform, port: int, env: dict[str, str], receiver_env: dict[str, str]) -> str | None:
    """``mlops serve`` on loopback (ready once every champion exists; /healthz answers at once)."""
    if not port_free(port):
        print(f"warning: port {port} on {HOST} is in use: online serving not started (--serving-port N)")
        return None
    argv = [str(BIN / "mlops"), "serve", "--host", HOST, "--port", str(port)]
    service = platform.start("serving", argv, env)
    url = f"http://{HOST}:{port}"
    took = platform.wait_healthy([service], lambda: http_ok(f"{url}/healthz"), "mlops serve /healthz")
    platform.run_once("serving-register", [str(BIN / "mlops"), "webhook", "register", f"{url}/v1/notify"], receiver_env)
    print(f"online serving answers after {took:.0f} s; its /v1/notify is registered with MLflow")
    return url


def credentials(platform: Platform, password: str) -> dict[str, str]:
    """The receiver's Airflow login, under the variable names config/orchestration.yaml gives."""
    from mlops_platform.config import load_orchestration_settings

    api = load_orchestration_settings(REPO / "config").airflow_api
    return {api.username_env: ADMIN, api.password_env: password, "MLOPS_AIRFLOW_API_URL": platform.url("airflow")}


def memory_line(platform: Platform) -> str:
    """Memory of each service's process group, in MiB: PSS (shared pages split between the processes
    that share them, so forked workers are not counted twice) where the OS tells it, else RSS."""
    sizes: dict[str, float] = {}
    groups = {s.process.pid: s.name for s in platform.services}
    kind = "PSS"
    for process in descendants():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            name = groups.get(os.getpgid(process.pid), "other")
            info = process.memory_full_info()
            size = getattr(info, "pss", None)
            if size is None:
                size, kind = info.rss, "RSS"
            sizes[name] = sizes.get(name, 0.0) + size / 2**20
    parts = ", ".join(f"{name} {size:.0f}" for name, size in sizes.items())
    return f"memory ({kind}, MiB): {parts}; total {sum(sizes.values()):.0f}"


def banner(
    platform: Platform, password: str, password_file: Path, hook_url: str, took: float, serving: str | None = None
) -> None:
    lines = [
        f"platform ready in {took:.0f} s",
        f"  Airflow   {platform.url('airflow')}  (user {ADMIN}, password {password}; in {password_file})",
        f"  MLflow    {platform.url('mlflow')}  (models: {platform.url('mlflow')}{MLFLOW_REGISTRY_PAGE})",
        f"  Webhook   {hook_url}  (alias moves in MLflow; a champion move triggers daily_scoring)",
        f"  Serving   {serving or 'not started'}  (mlops serve: /v1/models, /readyz, /metrics)",
        f"  Lake      file://{platform.home / 'lake'}",
        f"  Logs      {platform.run_dir / 'logs'}",
        f"  DAGs      {platform.dags}",
        f"  {memory_line(platform)}",
        f"Stop with Ctrl-C (or kill -TERM {os.getpid()}).",
    ]
    print("\n".join(lines), flush=True)


def watch(platform: Platform) -> None:
    """Until a signal arrives: fail as soon as a service exits on its own."""
    while True:
        for service in platform.services:
            if service.process.poll() is not None:
                raise Fatal(
                    f"{service.name} exited (code {service.process.returncode}); log {service.log}:\n{service.tail()}"
                )
        platform.sleep(1.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO, help="folder for the databases, lake and logs")
    parser.add_argument("--dags-folder", type=Path, default=REPO / "dags", help="Airflow's DAG folder")
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--airflow-port", type=int, default=8080)
    parser.add_argument("--receiver-port", type=int, default=5055)
    parser.add_argument("--serving-port", type=int, default=8000, help="mlops serve (skipped if taken)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each service gets to answer")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    home = args.home.expanduser().resolve()
    ports = {"mlflow": args.mlflow_port, "airflow": args.airflow_port, "receiver": args.receiver_port}
    platform = Platform(home, args.dags_folder.expanduser().resolve(), ports, args.timeout)

    def on_signal(signum: int, _frame: object) -> None:
        platform.stop_signal = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    become_subreaper()
    try:
        if not platform.dags.is_dir():
            raise Fatal(f"DAG folder {platform.dags} not found (--dags-folder)")
        for folder in (platform.run_dir / "logs", platform.airflow_home):
            folder.mkdir(parents=True, exist_ok=True)
        clear_stale_run(platform)
        check_ports(platform)
        start_platform(platform, args.serving_port)
        watch(platform)
    except KeyboardInterrupt:
        print(f"stopping ({signal.Signals(platform.stop_signal or signal.SIGINT).name})", flush=True)
        return 0
    except Fatal as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if platform.services:
            platform.stop_all()
            print("stopped every process the platform started", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
