"""The flags of ``gpuflow serve`` (those of ``tensorflow_model_server``) and the model config file.

The model config file is TF Serving's ``ModelServerConfig`` (``tensorflow_serving/config/
model_server_config.proto``), read as TF Serving reads it: protobuf text format, e.g.::

    model_config_list {
      config {
        name: "mnist"
        base_path: "/models/mnist"
        model_platform: "gpuflow"
        model_version_policy { specific { versions: 1 versions: 2 } }
        version_labels { key: "stable" value: 1 }
      }
    }

A file whose name ends in ``.json`` holds the same fields as JSON (protobuf's JSON mapping:
``{"model_config_list": {"config": [{"name": ..., "base_path": ..., "model_version_policy":
{"latest": {"num_versions": 2}}, "version_labels": {"stable": "1"}}]}}``). ``model_platform`` may be
empty, ``"gpuflow"``, ``"keras"`` or ``"tensorflow"`` (accepted so that TF Serving's files work
unchanged); the models are always loaded as ``.keras`` files.
"""
from __future__ import annotations

import argparse
import os

PLATFORMS = ("", "gpuflow", "keras", "tensorflow")


def add_arguments(parser):
    """Adds the flags of ``gpuflow serve`` to an argparse parser (no import of the server libraries)."""
    def nonneg_int(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
        return value

    def positive_int(text):
        value = nonneg_int(text)
        if value == 0:
            raise argparse.ArgumentTypeError("expected a positive integer, got 0")
        return value

    parser.add_argument("--model_name", default=None, help="name of the model served from --model_base_path")
    parser.add_argument("--model_base_path", default=None,
                        help="directory holding one subdirectory per version: <version>/model.keras, as "
                             "Model.export writes it")
    parser.add_argument("--model_config_file", default=None,
                        help="several models: TF Serving's ModelServerConfig in protobuf text format, or JSON "
                             "(a .json file); replaces --model_name/--model_base_path")
    parser.add_argument("--port", type=nonneg_int, default=8500, help="gRPC port (default 8500; 0: no gRPC)")
    parser.add_argument("--rest_api_port", type=nonneg_int, default=8501,
                        help="HTTP/REST port (default 8501; 0: no REST)")
    parser.add_argument("--rest_api_host", default="0.0.0.0",
                        help="address the servers listen on (default 0.0.0.0; 127.0.0.1 for this machine only)")
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0,
                        help="seconds between polls of the base paths for new versions (default 1; 0: poll "
                             "once at startup)")
    parser.add_argument("--enable_batching", action="store_true",
                        help="merge concurrent requests to one model version into batches")
    parser.add_argument("--max_batch_size", type=positive_int, default=32,
                        help="largest merged batch, in rows (default 32)")
    parser.add_argument("--batch_timeout_micros", type=nonneg_int, default=1000,
                        help="longest wait for a batch to fill, in microseconds (default 1000)")
    parser.add_argument("--num_batch_threads", type=positive_int, default=None,
                        help="threads running inference (default: the number of CPUs)")
    parser.add_argument("--max_body_bytes", type=positive_int, default=64 << 20,
                        help="largest REST request body; larger is a 413 error (default 64 MiB)")
    return parser


def _protos():
    from .protos import model_server_config_pb2
    return model_server_config_pb2


def load_config_file(path):
    """Reads a model config file (see the module docstring) into a ``ModelServerConfig`` message.

    Raises:
        ValueError: the file does not parse, names no model, or has a duplicate name, an empty name or
            base_path, or an unknown model_platform; the message names the file.
        OSError: the file cannot be read.
    """
    from google.protobuf import json_format, text_format
    pb = _protos()
    with open(path, encoding="utf-8") as f:
        text = f.read()
    config = pb.ModelServerConfig()
    try:
        if path.endswith(".json"):
            json_format.Parse(text, config)
        else:
            text_format.Parse(text, config)
    except (json_format.ParseError, text_format.ParseError) as e:
        raise ValueError(f"--model_config_file {path!r}: not a ModelServerConfig ({e})") from None
    check_configs(config.model_config_list.config, f"--model_config_file {path!r}")
    return config


def check_configs(configs, where):
    """Raises ValueError (naming ``where``) unless ``configs`` are served as is."""
    if not configs:
        raise ValueError(f"{where}: expected at least one model in model_config_list. Received: none")
    names = set()
    for c in configs:
        if not c.name or not c.base_path:
            raise ValueError(f"{where}: every model needs a name and a base_path. Received: name={c.name!r}, "
                             f"base_path={c.base_path!r}")
        if c.name in names:
            raise ValueError(f"{where}: model names must be unique. Received: name={c.name!r} twice")
        names.add(c.name)
        if c.model_platform not in PLATFORMS:
            raise ValueError(f"{where}: expected model_platform in {PLATFORMS[1:]} or empty. "
                             f"Received: model_platform={c.model_platform!r} for model {c.name!r}")


def model_configs(args):
    """The ``ModelConfig`` messages to serve, from ``--model_config_file`` or ``--model_name`` and
    ``--model_base_path`` (an absolute path is stored; TF Serving requires one, gpuflow makes it).

    Raises:
        ValueError: neither or both ways given, or a bad config file (see :func:`load_config_file`).
    """
    if args.model_config_file:
        if args.model_base_path:
            raise ValueError("Expected --model_config_file or --model_base_path, not both. Received: "
                             f"--model_config_file={args.model_config_file!r}, "
                             f"--model_base_path={args.model_base_path!r}")
        configs = list(load_config_file(args.model_config_file).model_config_list.config)
    elif args.model_base_path:
        pb = _protos()
        configs = [pb.ModelConfig(name=args.model_name or "default", base_path=args.model_base_path)]
    else:
        raise ValueError("Expected --model_base_path (with --model_name) or --model_config_file. Received: neither")
    for c in configs:
        c.base_path = os.path.abspath(c.base_path)
    return configs
