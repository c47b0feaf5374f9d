"""gpuflow serve, dynamic batching: concurrent requests merged into one model call and split back."""
from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from gpuflow import serving

if serving.missing_modules():
    pytest.skip(f"the serve extra is not installed ({serving.INSTALL_HINT})", allow_module_level=True)

from gpuflow.serving.batching import BatchingOptions, Batcher, Runner  # noqa: E402
from gpuflow.serving.server import serve_in_thread  # noqa: E402
from serving_utils import config, export, predict, rand, tiny_dense  # noqa: E402


def test_concurrent_requests_are_merged_and_split_back(tmp_path):
    model = tiny_dense(seed=3)
    export(model, tmp_path, 1)
    rows = [rand(1 + i % 2, 3, seed=i) for i in range(8)]  # 12 rows in all
    out = [None] * len(rows)
    with serve_in_thread([config("m", tmp_path)], port=0, poll_wait_seconds=0,
                         batching=BatchingOptions(max_batch_size=12, batch_timeout_micros=500_000)) as server:
        def client(i):
            out[i] = predict(server.rest_port, "m", {"instances": rows[i].tolist()})
        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(rows))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for x, (status, doc) in zip(rows, out):
            assert status == 200 and np.allclose(doc["predictions"], model.predict(x, verbose=0), atol=1e-6)
        calls = server.metrics.registry.get_sample_value(":tensorflow:serving:batch_size_count", {"model_name": "m"})
        total = server.metrics.registry.get_sample_value(":tensorflow:serving:batch_size_sum", {"model_name": "m"})
        assert total == 12 and calls < len(rows)  # merged: fewer model calls than requests
        status, doc = predict(server.rest_port, "m", {"instances": rand(13, 3).tolist()})
        assert status == 400 and "Task size 13 is larger than maximum input batch size 12" in doc["error"]


class _Recorder:
    """A servable stand-in: ``run`` returns its input doubled and records the batch sizes."""
    name = "fake"

    def __init__(self):
        self.sizes = []

    def run(self, inputs):
        self.sizes.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}


def test_batches_hold_only_matching_shapes_and_respect_the_size():
    async def main():
        runner = Runner(1, BatchingOptions(max_batch_size=4, batch_timeout_micros=50_000))
        fake = _Recorder()
        batcher = Batcher(fake, runner)
        xs = [np.full((1, 2), i, np.float32) for i in range(5)] + [np.full((1, 3), 9, np.float32)]
        outs = await asyncio.wait_for(asyncio.gather(*(batcher.submit({"x": x}, 1) for x in xs)), 10)
        runner.close()
        return xs, outs, fake.sizes

    xs, outs, sizes = asyncio.run(main())
    for x, o in zip(xs, outs):
        assert np.array_equal(o["y"], x * 2)
    assert sorted(sizes) == [1, 1, 4]  # 4 of shape (1, 2), then the fifth, and the (1, 3) one alone
