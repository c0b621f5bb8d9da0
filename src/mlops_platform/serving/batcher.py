"""``/predict`` on rows given in requests: the model's own ``predict_frame``, batched while busy.

One call of a zoo model on a small frame costs milliseconds whatever its length (pandas and the
booster's set-up dominate), so requests that arrive while a call runs are gathered and scored
in the next call, together: no wait is added when the service is idle, and under load one call
answers many requests. Rows are scored independently, so a row's answer does not depend on
its batch.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any

import pyarrow as pa

from mlops_platform.serving.tables import ScoreTable

Rows = list[dict[str, Any]]


def predict_rows(table: ScoreTable, rows: Rows) -> Rows:
    """The model's own ``predict_frame`` on a frame typed like the snapshot (no pyfunc)."""
    frame = pa.Table.from_pylist(rows, schema=table.row_schema).to_pandas()
    output = table.estimator.predict_frame(frame)
    columns = [c for c in output.columns if c != "customer_id"]
    values = {c: output[c].to_numpy().tolist() for c in columns}
    return [{c: values[c][i] for c in columns} for i in range(len(frame))]


class Batcher:
    """Gathers ``/predict`` requests per served pair and scores them in as few calls as load allows.

    Args:
        pool: where the model runs (off the event loop).
        max_rows: rows per call at most.
    """

    def __init__(self, pool: Executor, max_rows: int = 512) -> None:
        self.pool, self.max_rows = pool, max_rows
        self._queues: dict[tuple[str, str, object], list[tuple[Rows, asyncio.Future[Rows]]]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    def submit(self, table: ScoreTable, rows: Rows) -> asyncio.Future[Rows]:
        """A future of the outputs of ``rows`` (one dict per row, in order)."""
        future: asyncio.Future[Rows] = asyncio.get_running_loop().create_future()
        key = (table.model, table.version, table.snapshot_date)
        queue = self._queues.get(key)
        if queue is not None:
            queue.append((rows, future))  # a call is running: the next one takes these rows
            return future
        self._queues[key] = [(rows, future)]
        task = asyncio.ensure_future(self._drain(table, key))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)
        return future

    async def _drain(self, table: ScoreTable, key: tuple[str, str, object]) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queues[key]
        try:
            while queue:
                taken, size = 0, 0
                while taken < len(queue) and (taken == 0 or size + len(queue[taken][0]) <= self.max_rows):
                    size += len(queue[taken][0])
                    taken += 1
                batch, queue[:taken] = queue[:taken], []
                batch = [(rows, f) for rows, f in batch if not f.done()]  # timed-out requests are dropped
                if not batch:
                    continue
                try:
                    outputs = await loop.run_in_executor(
                        self.pool, predict_rows, table, [r for rows, _ in batch for r in rows]
                    )
                except Exception as exc:  # noqa: BLE001 - handed to each waiting request
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(exc)
                    continue
                start = 0
                for rows, f in batch:
                    if not f.done():
                        f.set_result(outputs[start : start + len(rows)])
                    start += len(rows)
        finally:
            del self._queues[key]
