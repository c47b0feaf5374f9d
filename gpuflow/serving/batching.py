"""How requests run: off the event loop, on a thread pool, one request at a time or in merged batches.

Dynamic batching (``--enable_batching``), as TF Serving's batch scheduler: the requests to one model
version wait in that version's queue; a batch closes when it holds ``max_batch_size`` rows or when
``batch_timeout_micros`` have passed since its first request arrived, whichever comes first; it runs
once (the inputs concatenated along the batch axis) and the outputs are split back into each request's
rows. A batch takes requests in arrival order, only those whose non-batch dimensions match the first's
(so models with unknown dimensions batch too). A version runs one batch at a time (its calls are
serialized, see :class:`~gpuflow.serving.manager.Servable`), so the next batch fills while one runs;
``num_batch_threads`` threads run the batches of all versions. A request larger than
``max_batch_size`` is an error (INVALID_ARGUMENT), as in TF Serving without ``allow_batch_splitting``.
Batches are not padded.
"""
from __future__ import annotations

import asyncio
import collections
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .tensors import invalid


@dataclass(frozen=True)
class BatchingOptions:
    """``max_batch_size`` rows per batch; ``batch_timeout_micros`` the longest a batch waits to fill."""
    max_batch_size: int = 32
    batch_timeout_micros: int = 1000


class Runner:
    """Runs a servable on checked inputs, batched when ``batching`` (a :class:`BatchingOptions`) is given.

    ``observe_batch(model_name, rows)``, if given, is called for every model call (for metrics).
    """

    def __init__(self, num_threads=None, batching=None, observe_batch=None):
        self.num_threads = num_threads or os.cpu_count() or 1
        self.executor = ThreadPoolExecutor(self.num_threads, thread_name_prefix="gpuflow-serving-infer")
        self.batching = batching
        self._observe = observe_batch or (lambda name, rows: None)

    async def run(self, servable, inputs, rows):
        """The outputs (dict name -> array) of ``servable`` for ``inputs`` (dict name -> array of ``rows``
        rows, checked by the servable's signature)."""
        if self.batching is None:
            self._observe(servable.name, rows)
            return await asyncio.get_running_loop().run_in_executor(self.executor, servable.run, inputs)
        if servable.batcher is None:
            servable.batcher = Batcher(servable, self)
        return await servable.batcher.submit(inputs, rows)

    def close(self):
        self.executor.shutdown(wait=True)


class Batcher:
    """The queue of one servable's requests (see the module docstring). Lives on one event loop; its
    collecting task runs only while requests wait."""

    def __init__(self, servable, runner):
        self.servable, self.runner = servable, runner
        self.max_rows = runner.batching.max_batch_size
        self.timeout = runner.batching.batch_timeout_micros * 1e-6
        self._queue = collections.deque()  # (arrival time, inputs, rows, shape key, future)
        self._rows = 0  # rows in the queue
        self._full = asyncio.Event()  # set once the queue holds max_rows rows
        self._slots = asyncio.Semaphore(1)  # one batch of this version at a time; the next one fills meanwhile
        self._task = None

    async def submit(self, inputs, rows):
        if rows > self.max_rows:
            raise invalid(f"Task size {rows} is larger than maximum input batch size {self.max_rows}")
        loop = asyncio.get_running_loop()
        key = tuple((name, a.shape[1:]) for name, a in inputs.items())
        fut = loop.create_future()
        self._queue.append((loop.time(), inputs, rows, key, fut))
        self._rows += rows
        if self._rows >= self.max_rows:
            self._full.set()
        if self._task is None:
            self._task = loop.create_task(self._collect())
        return await fut

    async def _collect(self):
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                await self._slots.acquire()
                wait = self._queue[0][0] + self.timeout - loop.time()
                if self._rows < self.max_rows and wait > 0:
                    self._full.clear()
                    try:
                        await asyncio.wait_for(self._full.wait(), wait)
                    except asyncio.TimeoutError:
                        pass
                batch = self._take()
                loop.create_task(self._execute(batch))
        finally:
            self._task = None

    def _take(self):
        key, rows, batch, rest = self._queue[0][3], 0, [], collections.deque()
        while self._queue:
            item = self._queue.popleft()
            if item[3] == key and rows + item[2] <= self.max_rows:
                batch.append(item)
                rows += item[2]
                self._rows -= item[2]
            else:
                rest.append(item)
        self._queue.extendleft(reversed(rest))
        return batch

    async def _execute(self, batch):
        loop = asyncio.get_running_loop()
        try:
            batch = [b for b in batch if not b[4].done()]  # a client that went away needs no rows
            if not batch:
                return
            try:
                merged = {n: np.concatenate([b[1][n] for b in batch]) if len(batch) > 1 else a
                          for n, a in batch[0][1].items()}
                self.runner._observe(self.servable.name, sum(b[2] for b in batch))
                outs = await loop.run_in_executor(self.runner.executor, self.servable.run, merged)
            except Exception as e:  # the model failed on this batch: each of its requests gets the error
                for b in batch:
                    if not b[4].done():
                        b[4].set_exception(e)
                return
            start = 0
            for _, _, rows, _, fut in batch:
                if not fut.done():
                    fut.set_result({n: o[start:start + rows] for n, o in outs.items()})
                start += rows
        finally:
            self._slots.release()
