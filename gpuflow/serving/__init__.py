"""``gpuflow serve``: a model server that speaks TensorFlow Serving's REST and gRPC APIs.

Layout: :mod:`.config` (flags, the model config file), :mod:`.manager` (versions, policies, labels,
hot reload), :mod:`.batching` (inference off the event loop, dynamic batching), :mod:`.rest` and
:mod:`.grpc_server` (the two APIs), :mod:`.tensors` (TensorProto and JSON codecs), :mod:`.messages`
(status and metadata documents), :mod:`.metrics` (Prometheus), :mod:`.server` (runs it all),
:mod:`.protos` (the subset of TF Serving's .proto files, and the modules generated from them).

The server libraries (aiohttp, grpcio, protobuf, prometheus-client, orjson) are the optional extra
``gpuflow[serve]``; importing this package needs none of them.
"""
from __future__ import annotations

import importlib.util

EXTRA_MODULES = ("aiohttp", "grpc", "google.protobuf", "prometheus_client", "orjson")
INSTALL_HINT = "pip install 'gpuflow[serve]'"


def missing_modules():
    """The modules of the ``serve`` extra that are not installed."""
    out = []
    for name in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # the parent package (google) is missing
            found = False
        if not found:
            out.append(name)
    return out


def main(args):
    """Runs ``gpuflow serve`` with parsed flags (see :func:`gpuflow.serving.config.add_arguments`);
    returns the exit status.

    Raises:
        ImportError: the ``serve`` extra is not installed (the message says how to install it).
    """
    missing = missing_modules()
    if missing:
        raise ImportError(f"gpuflow serve needs the server libraries of the 'serve' extra: {INSTALL_HINT} "
                          f"(missing: {', '.join(missing)})")
    from .server import main as run
    return run(args)
