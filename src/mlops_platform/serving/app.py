"""The Starlette app of ``mlops serve``: routes, bearer token, body limits, time-outs, metrics.

Every route runs inside :meth:`Service.guard`, which checks the token, times the answer, counts
it, and turns a :class:`~mlops_platform.serving.inputs.RequestError` into its status with a JSON
``{"error": ..., "field": ...}`` body, a time-out into 504 and anything unexpected into 500 (logged),
so no request can take the worker down. Lookups run on the event loop (no I/O, no pandas);
``/predict`` runs the model on the given rows in a small thread pool, under the time-out, gathering
the requests that arrive while a call runs into the next call (:mod:`~mlops_platform.serving.batcher`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlops_platform.registry import webhooks
from mlops_platform.serving import inputs
from mlops_platform.serving.batcher import Batcher
from mlops_platform.serving.inputs import RequestError
from mlops_platform.serving.loading import Loader, State
from mlops_platform.serving.metrics import CONTENT_TYPE, ServingMetrics
from mlops_platform.serving.predlog import PredictionLog, Row, new_request_id, row_hash
from mlops_platform.serving.settings import ServeSettings
from mlops_platform.serving.swap import Swapper
from mlops_platform.serving.tables import ScoreTable

_logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/v1/notify"})  # probes; notify is HMAC-signed


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class Service:
    """The state behind the routes: settings, the swapper, the prediction log and the metrics."""

    def __init__(self, settings: ServeSettings, loader: Loader, log: PredictionLog, metrics: ServingMetrics) -> None:
        self.settings, self.log, self.metrics = settings, log, metrics
        self.swapper = Swapper(loader, settings.poll_seconds)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlops-serve-predict")
        self.batcher = Batcher(self.pool, max_rows=max(settings.max_rows, 512))

    @property
    def state(self) -> State:
        return self.swapper.state

    # -- plumbing ------------------------------------------------------------------------------
    def guard(self, route: str, handler: Handler) -> Handler:
        """``handler`` with the token check, error mapping, metrics and a catch-all."""

        async def guarded(request: Request) -> Response:
            started = time.perf_counter()
            kind: str | None = None
            try:
                self._authorize(request)
                response = await handler(request)
            except RequestError as exc:
                kind, response = exc.kind, json_response(exc.body(), exc.status)
            except TimeoutError:
                kind = "timeout"
                response = json_response({"error": f"no answer within {self.settings.timeout_seconds} s"}, 504)
            except Exception:  # noqa: BLE001 - a request never crashes the worker
                _logger.exception("serving: %s %s failed", request.method, request.url.path)
                kind, response = "internal", json_response({"error": "internal error (logged)"}, 500)
            self.metrics.observe(route, response.status_code, time.perf_counter() - started, kind)
            return response

        return guarded

    def _authorize(self, request: Request) -> None:
        token = self.settings.token
        if token is None or request.url.path in OPEN_PATHS:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise RequestError(
                401, "missing or wrong bearer token (Authorization: Bearer <MLOPS_SERVE_TOKEN>)", kind="auth"
            )

    async def body(self, request: Request) -> bytes:
        """The request body, refused with 413 beyond ``max_body_bytes`` (declared or streamed)."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        too_big = RequestError(413, f"request body over {limit:,} bytes", kind="too_large")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    def table(self, name: str, state: State | None = None) -> ScoreTable:
        """The served table of ``name`` in ``state`` (default: the current one), or 503/404."""
        state = state or self.state
        found = state.scores.get(name)
        if found is None and name in self.settings.models:
            why = state.failures.get(name, "loading")
            raise RequestError(503, f"model {name!r} is not loaded yet ({why})", "model", "not_ready")
        if found is None:
            served = ", ".join(state.scores) or "none loaded yet"
            raise RequestError(404, f"model {name!r} is not served (served: {served})", "model", "not_found")
        return found

    # -- routes --------------------------------------------------------------------------------
    async def scores(self, request: Request) -> Response:
        started = time.perf_counter()
        customer = inputs.customer_id(request.path_params["customer_id"])
        asked = request.query_params.get("models")
        names = (
            tuple(dict.fromkeys(n.strip() for n in asked.split(",") if n.strip())) if asked else self.settings.models
        )
        state = self.state  # one state for the whole answer, even if a swap lands meanwhile
        tables = [self.table(name, state) for name in names]
        if not tables:
            raise inputs.invalid("models", "name at least one model")
        answers: dict[str, Any] = {}
        for t in tables:
            found = t.lookup(customer)
            if found is None:
                day = t.snapshot_date
                raise RequestError(
                    404,
                    f"customer {customer} is not in the feature snapshot of {day} ({t.model})",
                    "customer_id",
                    "not_found",
                )
            answers[t.model] = {"version": t.version, "snapshot_date": str(t.snapshot_date), **found}
        body = {"customer_id": customer, "scores": answers}
        latency, now, rid = (time.perf_counter() - started) * 1000, dt.datetime.now(dt.UTC), new_request_id()
        for t in tables:
            value = answers[t.model][t.primary]
            self.log.append(t.model, [(rid, customer, None, t.version, _number(value), None, latency, now)])
        return json_response(body)

    async def recommendations(self, request: Request) -> Response:
        started = time.perf_counter()
        customer = inputs.customer_id(request.path_params["customer_id"])
        recs = self.state.recommendations
        if recs is None:
            raise RequestError(503, "the recommender is not loaded yet", kind="not_ready")
        n = inputs.top_n(request.query_params.get("n"), recs.top_n)
        items, cold = recs.lookup(customer, n)
        body = {
            "customer_id": customer,
            "model": recs.model,
            "version": recs.version,
            "cold_start": cold,
            "recommendations": items,
        }
        latency = (time.perf_counter() - started) * 1000
        detail = ",".join(str(i["product_id"]) for i in items)
        top = items[0]["score"] if items else None
        row: Row = (new_request_id(), customer, None, recs.version, top, detail, latency, dt.datetime.now(dt.UTC))
        self.log.append(recs.model, [row])
        return json_response(body)

    async def predict(self, request: Request) -> Response:
        started = time.perf_counter()
        table = self.table(request.path_params["name"])
        rows = inputs.rows(inputs.parse_json(await self.body(request)), table.row_schema, self.settings.max_rows)
        work = self.batcher.submit(table, rows)
        outputs = await asyncio.wait_for(asyncio.shield(work), self.settings.timeout_seconds)
        latency, now, rid = (time.perf_counter() - started) * 1000, dt.datetime.now(dt.UTC), new_request_id()
        self.log.append(
            table.model,
            [
                (rid, None, row_hash(r), table.version, _number(o.get(table.primary)), None, latency, now)
                for r, o in zip(rows, outputs, strict=True)
            ],
        )
        return json_response({"model": table.model, "version": table.version, "predictions": outputs})

    async def models(self, request: Request) -> Response:
        missing = self.state.ready(self.settings)
        return json_response({"models": self.state.describe(), "ready": not missing, "missing": missing})

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        missing = self.state.ready(self.settings)
        if missing:
            return json_response({"ready": False, "missing": missing, "failures": self.state.failures}, 503)
        return json_response({"ready": True})

    async def metrics_page(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def notify(self, request: Request) -> Response:
        secret = self.settings.secret
        if not secret:
            raise RequestError(503, "notifications are off: set MLOPS_WEBHOOK_SECRET", kind="not_ready")
        text = (await self.body(request)).decode("utf-8", errors="replace")
        problem = webhooks.verify(secret, {k.lower(): v for k, v in request.headers.items()}, text)
        if problem:
            raise RequestError(401, f"notification refused: {problem}", kind="auth")
        try:
            change = webhooks.parse_event(text)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise inputs.invalid("body", f"not an alias event ({exc})") from None
        if change is None or change.model not in self.settings.served:
            return json_response({"refresh": False})
        self.swapper.notify()
        return json_response({"refresh": True, "model": change.model}, 202)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def create_app(service: Service) -> Starlette:
    """The ASGI app over ``service``; its lifespan starts the poller and flushes the log at the end."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.swapper.start()
        service.log.start()
        try:
            yield
        finally:
            service.swapper.stop()
            written = service.log.close()
            service.pool.shutdown(wait=False, cancel_futures=True)
            _logger.info("serving: stopped; the last flush wrote %d prediction log rows", written)

    g = service.guard
    routes = [
        Route("/v1/customers/{customer_id}/scores", g("scores", service.scores), methods=["GET"]),
        Route(
            "/v1/customers/{customer_id}/recommendations",
            g("recommendations", service.recommendations),
            methods=["GET"],
        ),
        Route("/v1/models/{name}/predict", g("predict", service.predict), methods=["POST"]),
        Route("/v1/models", g("models", service.models), methods=["GET"]),
        Route("/v1/notify", g("notify", service.notify), methods=["POST"]),
        Route("/healthz", g("healthz", service.healthz), methods=["GET"]),
        Route("/readyz", g("readyz", service.readyz), methods=["GET"]),
        Route("/metrics", g("metrics", service.metrics_page), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
