"""TF Serving's gRPC API on grpc.aio: ``tensorflow.serving.PredictionService/Predict`` and
``GetModelMetadata``, and ``tensorflow.serving.ModelService/GetModelStatus``, wire-compatible with the
``tensorflow-serving-api`` package's stubs (the messages are in :mod:`gpuflow.serving.protos`).

Predict takes ``TensorProto`` inputs with ``tensor_content`` or the typed value fields and answers with
``tensor_content``; ``output_filter`` selects outputs. Errors are gRPC statuses with TF Serving's codes:
INVALID_ARGUMENT (bad input), NOT_FOUND (unknown model, version or label). Methods not served
(Classify, Regress, MultiInference, HandleReloadConfigRequest) answer UNIMPLEMENTED.
"""
from __future__ import annotations

import time

import grpc

from . import messages, tensors
from .protos import (get_model_metadata_pb2, model_service_pb2_grpc, predict_pb2,
                     prediction_service_pb2_grpc)
from .tensors import ServingError, invalid


def _spec(request_spec):
    version = request_spec.version.value if request_spec.WhichOneof("version_choice") == "version" else None
    label = request_spec.version_label if request_spec.WhichOneof("version_choice") == "version_label" else None
    return request_spec.name, version, label


async def _abort(context, error):
    await context.abort(getattr(grpc.StatusCode, error.code, grpc.StatusCode.UNKNOWN), error.message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, manager, runner, metrics):
        self.manager, self.runner, self.metrics = manager, runner, metrics

    async def Predict(self, request, context):
        start, status = time.perf_counter(), "INVALID_ARGUMENT"
        name = request.model_spec.name
        try:
            with self.manager.acquire(*_spec(request.model_spec)) as servable:
                messages.check_signature_name(request.model_spec.signature_name)
                arrays = {k: tensors.from_tensor_proto(v, k) for k, v in request.inputs.items()}
                inputs, rows = servable.signature.check_inputs(arrays)
                wanted = list(request.output_filter)
                unknown = sorted(set(wanted) - {s.name for s in servable.signature.outputs})
                if unknown:
                    raise invalid(f"output_filter: expected output names among "
                                  f"{[s.name for s in servable.signature.outputs]}. Received: {unknown}")
                outputs = await self.runner.run(servable, inputs, rows)
                response = predict_pb2.PredictResponse()
                messages.model_spec(response.model_spec, servable, request.model_spec.signature_name or
                                    messages.SIGNATURE_NAME)
                for k, v in outputs.items():
                    if not wanted or k in wanted:
                        tensors.to_tensor_proto(v, response.outputs[k])
            status = "OK"
            return response
        except ServingError as e:
            status = e.code
            await _abort(context, e)
        except Exception:  # a model that fails on these inputs: INTERNAL, as grpc answers an exception
            status = "INTERNAL"
            raise
        finally:
            known = name if name in self.manager.model_names else "<unknown>"
            self.metrics.record(known, "grpc_predict", status, time.perf_counter() - start)

    async def GetModelMetadata(self, request, context):
        try:
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise invalid(f'Expected metadata_field ["signature_def"]. Received: {fields}')
            with self.manager.acquire(*_spec(request.model_spec)) as servable:
                response = get_model_metadata_pb2.GetModelMetadataResponse()
                messages.model_spec(response.model_spec, servable)
                response.metadata["signature_def"].Pack(messages.signature_def_map(servable))
            return response
        except ServingError as e:
            await _abort(context, e)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, manager):
        self.manager = manager

    async def GetModelStatus(self, request, context):
        try:
            return messages.status_response(self.manager, *_spec(request.model_spec))
        except ServingError as e:
            await _abort(context, e)


def make_server(manager, runner, metrics, max_message_bytes=64 << 20):
    """A ``grpc.aio.Server`` with both services added (ports not yet bound)."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", max_message_bytes),
                                      ("grpc.max_send_message_length", max_message_bytes)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(manager, runner, metrics), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(manager), server)
    return server


__all__ = ["make_server", "PredictionService", "ModelService"]
