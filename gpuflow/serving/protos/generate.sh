#!/bin/sh
# Regenerates the *_pb2.py / *_pb2_grpc.py modules beside this script from the .proto files
# (pip install grpcio-tools; run from anywhere). The generated code checks the protobuf runtime's
# version at import: keep the protobuf lower bound of the `serve` extra in pyproject.toml at the
# version the "Protobuf Python Version" line of the generated files names.
set -e
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
python -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. gpuflow/serving/protos/*.proto
# Only the service files define services; drop the empty *_pb2_grpc.py of the others.
for f in gpuflow/serving/protos/*_pb2_grpc.py; do
  case "$f" in *prediction_service_pb2_grpc.py|*model_service_pb2_grpc.py) ;; *) rm "$f" ;; esac
done
