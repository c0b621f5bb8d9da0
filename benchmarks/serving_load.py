"""An open-loop, fixed-rate HTTP/1.1 load generator on asyncio (loopback only), for benchmarks/serving.py.

Request ``i`` is due at ``t0 + i / rate`` whatever happened to the ones before (open loop: a slow
server meets the same arrivals, so queueing shows up in the latency); latency is measured from
the due time, not from when a connection became free. Keep-alive connections are reused and
opened on demand up to ``max_connections``; a request that finds none free waits, and that wait
counts. Runs are bounded by ``count`` and by ``max_seconds`` (unfinished requests count as errors).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Outcome:
    """What one fixed-rate run measured."""

    rate: float
    sent: int = 0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[tuple[float, bytes]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, float | int]:
        ms = np.asarray(self.latencies) * 1000 if self.latencies else np.asarray([np.nan])
        return {
            "rate": self.rate,
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "achieved_rate": round(self.ok / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "p999_ms": round(float(np.percentile(ms, 99.9)), 3),
            "max_ms": round(float(np.max(ms)), 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(self.failures),
        }


class Pool:
    """Keep-alive connections to one host:port."""

    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.free = asyncio.Semaphore(max_connections)

    async def exchange(self, payload: bytes, timeout: float) -> tuple[int, bytes]:
        """Send one request and read its response (Content-Length bodies only)."""
        async with self.free:
            if self.idle:
                try:  # a kept-alive connection the server closed meanwhile: retry once on a new one
                    return await self._on(self.idle.pop(), payload, timeout)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
            return await self._on(await asyncio.open_connection(self.host, self.port), payload, timeout)

    async def _on(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], payload: bytes, timeout: float
    ) -> tuple[int, bytes]:
        reader, writer = conn
        try:
            writer.write(payload)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status = int(head[9:12])
            at = head.lower().find(b"content-length:")
            length = int(head[at + 15 : head.index(b"\r\n", at)]) if at >= 0 else 0
            body = await asyncio.wait_for(reader.readexactly(length), timeout) if length else b""
        except BaseException:
            writer.close()
            raise
        self.idle.append(conn)
        return status, body

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def post(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def fixed_rate(
    port: int,
    request: Callable[[int], bytes],
    rate: float,
    count: int,
    max_seconds: float,
    keep_bodies: bool = False,
    max_connections: int = 256,
    timeout: float = 5.0,
) -> Outcome:
    """Send ``count`` requests at ``rate`` per second (open loop) to 127.0.0.1:``port``."""
    pool = Pool("127.0.0.1", port, max_connections)
    outcome = Outcome(rate=rate)
    tasks: set[asyncio.Task] = set()

    async def one(i: int, due: float) -> None:
        # The scheduler may send up to 0.5 ms before the due time: a latency is then measured from
        # the send, so it is never shorter than the exchange itself; a late send counts from the due time.
        start = min(due, time.perf_counter())
        try:
            status, body = await pool.exchange(request(i), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            outcome.errors += 1
            kind = type(exc).__name__
            outcome.failures[kind] = outcome.failures.get(kind, 0) + 1
            return
        done = time.perf_counter()
        outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
        if 200 <= status < 300:
            outcome.ok += 1
            outcome.latencies.append(done - start)
        else:
            outcome.errors += 1
        if keep_bodies:
            outcome.bodies.append((done, body))

    start = time.perf_counter()
    deadline = start + max_seconds
    for i in range(count):
        due = start + i / rate
        now = time.perf_counter()
        if now > deadline:
            break
        while due - now > 0.0005:
            await asyncio.sleep(max(due - now - 0.0005, 0))
            now = time.perf_counter()
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        outcome.sent += 1
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=max(deadline - time.perf_counter(), 0) + timeout)
        for task in pending:
            task.cancel()
        outcome.errors += len(pending)
        if pending:
            outcome.failures["unfinished"] = len(pending)
    outcome.seconds = time.perf_counter() - start
    pool.close()
    return outcome


def run(coroutine) -> Outcome:  # noqa: ANN001 - a coroutine of fixed_rate
    """Run on uvloop when it is installed (a faster client), else on asyncio's loop."""
    try:
        import uvloop

        return uvloop.run(coroutine)
    except ImportError:
        return asyncio.run(coroutine)
