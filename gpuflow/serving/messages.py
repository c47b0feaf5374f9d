"""The status and metadata documents of both APIs, built as TF Serving's protobuf messages (REST sends
them through protobuf's JSON mapping with the proto field names, as TF Serving does)."""
from __future__ import annotations

from google.protobuf import json_format

from .manager import SIGNATURE_NAME
from .protos import get_model_metadata_pb2, get_model_status_pb2
from .tensors import datatype, invalid

PREDICT_METHOD = "tensorflow/serving/predict"


def status_response(manager, name, version=None, label=None):
    """A ``GetModelStatusResponse`` for a model (one version with ``version`` or ``label``). Raises as
    :meth:`Manager.status`. A version that failed to load is ``END`` with error_code UNKNOWN and the error."""
    response = get_model_status_pb2.GetModelStatusResponse()
    for v, state, error in manager.status(name, version, label):
        s = response.model_version_status.add(version=v, state=state)
        s.status.error_code = 2 if error else 0  # tensorflow.error.UNKNOWN / OK
        s.status.error_message = error
    return response


def _tensor_info(spec, info):
    info.name = spec.name
    info.dtype = datatype(spec.dtype)
    for d in spec.shape:
        info.tensor_shape.dim.add().size = -1 if d is None else d
    return info


def signature_def_map(servable):
    """A ``SignatureDefMap`` with the servable's ``serving_default`` predict signature."""
    out = get_model_metadata_pb2.SignatureDefMap()
    sig = out.signature_def[SIGNATURE_NAME]
    sig.method_name = PREDICT_METHOD
    for spec in servable.signature.inputs:
        _tensor_info(spec, sig.inputs[spec.name])
    for spec in servable.signature.outputs:
        _tensor_info(spec, sig.outputs[spec.name])
    return out


def model_spec(spec, servable, signature_name=""):
    """Fills a ``ModelSpec`` with the servable's name and version."""
    spec.name = servable.name
    spec.version.value = servable.version
    spec.signature_name = signature_name
    return spec


def to_dict(message):
    """protobuf's JSON mapping with the proto field names and default values printed."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True,
                                     preserving_proto_field_name=True)


def check_signature_name(name):
    """Raises INVALID_ARGUMENT unless ``name`` is empty or ``serving_default``."""
    if name not in ("", SIGNATURE_NAME):
        raise invalid(f'Serving signature name: "{name}" not found in signature def')

