"""The model server: the version manager, the REST and gRPC APIs on one event loop, inference on a
thread pool. ``gpuflow serve`` calls :func:`main`; tests and benchmarks use :func:`serve_in_thread`.

On SIGINT or SIGTERM the server stops accepting connections, lets the requests in flight finish (up to
``drain_seconds``), unloads the models and returns exit status 0.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from aiohttp import web

from . import config as _config
from .batching import BatchingOptions, Runner
from .grpc_server import make_server
from .manager import Manager
from .metrics import Metrics
from .rest import RestApi

log = logging.getLogger("gpuflow.serving")


class ModelServer:
    """Serves ``configs`` (``ModelConfig`` messages) on ``host``: REST on ``rest_api_port`` and gRPC on
    ``port`` (0: that API is off; ``None``: an ephemeral port, read back from ``rest_port`` /
    ``grpc_port`` after :meth:`start`).

    Args:
        batching: a :class:`~gpuflow.serving.batching.BatchingOptions`, or None for no batching.
        num_batch_threads: inference threads (default: the number of CPUs).
        poll_wait_seconds: seconds between polls of the base paths (<= 0: once, at start).
        max_body_bytes: the largest REST body (and gRPC message).
        load_model: path -> model (default: gpuflow's ``load_model(path, compile=False)``).
    """

    def __init__(self, configs, host="127.0.0.1", rest_api_port=None, port=None, batching=None,
                 num_batch_threads=None, poll_wait_seconds=1.0, max_body_bytes=64 << 20, load_model=None,
                 drain_seconds=30.0):
        self.host, self._rest_req, self._grpc_req = host, rest_api_port, port
        self.drain_seconds = drain_seconds
        self.metrics = Metrics()
        self.manager = Manager(configs, poll_wait_seconds, load_model)
        self.runner = Runner(num_batch_threads, batching,
                             self.metrics.observe_batch)
        self.max_body_bytes = max_body_bytes
        self.rest_port = self.grpc_port = None
        self._site_runner = self._grpc = None

    async def start(self):
        """Loads the models (the first poll), then opens the ports."""
        await asyncio.get_running_loop().run_in_executor(None, self.manager.start)
        if self._rest_req != 0:
            api = RestApi(self.manager, self.runner, self.metrics, self.max_body_bytes)
            self._site_runner = web.AppRunner(api.app, access_log=None, shutdown_timeout=self.drain_seconds)
            await self._site_runner.setup()
            site = web.TCPSite(self._site_runner, self.host, self._rest_req or 0)
            await site.start()
            self.rest_port = self._site_runner.addresses[0][1]
        if self._grpc_req != 0:
            self._grpc = make_server(self.manager, self.runner, self.metrics, self.max_body_bytes)
            host = f"[{self.host}]" if ":" in self.host else self.host
            self.grpc_port = self._grpc.add_insecure_port(f"{host}:{self._grpc_req or 0}")
            await self._grpc.start()
        log.info("serving %s: REST port %s, gRPC port %s", self.manager.model_names, self.rest_port, self.grpc_port)

    async def stop(self):
        """Stops accepting, drains the requests in flight, unloads the models."""
        if self._grpc is not None:
            await self._grpc.stop(self.drain_seconds)
        if self._site_runner is not None:
            await self._site_runner.cleanup()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.manager.stop, self.drain_seconds)
        await loop.run_in_executor(None, self.runner.close)


def server_from_args(args):
    """A :class:`ModelServer` for the parsed flags of ``gpuflow serve`` (see :mod:`gpuflow.serving.config`)."""
    batching = (BatchingOptions(args.max_batch_size, args.batch_timeout_micros) if args.enable_batching else None)
    return ModelServer(_config.model_configs(args), host=args.rest_api_host, rest_api_port=args.rest_api_port,
                       port=args.port, batching=batching, num_batch_threads=args.num_batch_threads,
                       poll_wait_seconds=args.file_system_poll_wait_seconds, max_body_bytes=args.max_body_bytes)


async def _serve_until_signal(server):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    print(f"gpuflow serve: models {server.manager.model_names}; REST port {server.rest_port}, gRPC port "
          f"{server.grpc_port}", flush=True)
    await stop.wait()
    print("gpuflow serve: stopping (draining requests in flight)", flush=True)
    await server.stop()


def main(args):
    """Runs the server of ``gpuflow serve`` until SIGINT/SIGTERM; returns the exit status (0)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_serve_until_signal(server_from_args(args)))
    return 0


@contextlib.contextmanager
def serve_in_thread(configs, **kwargs):
    """``with serve_in_thread(configs, **ModelServer kwargs) as server:`` runs a :class:`ModelServer` on
    127.0.0.1 with ephemeral ports (unless given) in a thread of its own, stopped at the end of the block."""
    kwargs.setdefault("host", "127.0.0.1")
    server = ModelServer(configs, **kwargs)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure = []

    def run():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as e:  # reported to the caller's thread
            failure.append(e)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="gpuflow-serving-loop", daemon=True)
    thread.start()
    started.wait()
    if failure:
        thread.join()
        loop.close()
        raise failure[0]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
