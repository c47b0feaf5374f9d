"""NumPy arrays to and from TF Serving's wire forms: ``tensorflow.TensorProto`` (gRPC) and JSON values (REST).

Decoding errors are :class:`ServingError` with code ``INVALID_ARGUMENT`` (HTTP 400), as TF Serving's.
"""
from __future__ import annotations

import base64

import numpy as np


class ServingError(Exception):
    """An error a client sees. ``code`` is a ``tensorflow.error.Code`` name: INVALID_ARGUMENT (HTTP 400),
    NOT_FOUND (404), RESOURCE_EXHAUSTED (413 for a body over the limit), UNAVAILABLE (503), INTERNAL (500)."""

    HTTP_STATUS = {"INVALID_ARGUMENT": 400, "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 413, "FAILED_PRECONDITION": 400,
                   "UNAVAILABLE": 503, "INTERNAL": 500, "UNIMPLEMENTED": 501}

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self):
        return self.HTTP_STATUS.get(self.code, 500)


def invalid(message):
    return ServingError("INVALID_ARGUMENT", message)


# DataType enum values (tensorflow/core/framework/types.proto) of the dtypes served, and the TensorProto
# field holding each one's typed values.
_DT = {"float32": (1, "float_val"), "float64": (2, "double_val"), "int32": (3, "int_val"), "uint8": (4, "int_val"),
       "int16": (5, "int_val"), "int8": (6, "int_val"), "object": (7, "string_val"),
       "complex64": (8, "scomplex_val"), "int64": (9, "int64_val"), "bool": (10, "bool_val"),
       "uint16": (17, "int_val"), "complex128": (18, "dcomplex_val"), "float16": (19, "half_val"),
       "uint32": (22, "uint32_val"), "uint64": (23, "uint64_val")}
_NP = {code: np.dtype(name) for name, (code, _) in _DT.items()}
_NAMES = {1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8", 7: "DT_STRING",
          8: "DT_COMPLEX64", 9: "DT_INT64", 10: "DT_BOOL", 17: "DT_UINT16", 18: "DT_COMPLEX128", 19: "DT_HALF",
          22: "DT_UINT32", 23: "DT_UINT64"}


def datatype(dtype):
    """The ``tensorflow.DataType`` value of a NumPy dtype (bytes/str/object: DT_STRING).

    Raises:
        ServingError: INVALID_ARGUMENT for a dtype TF Serving has no DataType for.
    """
    dtype = np.dtype(dtype)
    key = "object" if dtype.kind in "OSU" else dtype.name
    if key not in _DT:
        raise invalid(f"Expected a dtype with a TensorFlow DataType. Received: dtype={dtype.name}")
    return _DT[key][0]


def datatype_name(dtype):
    """``"DT_FLOAT"`` etc. for a NumPy dtype."""
    return _NAMES[datatype(dtype)]


def from_tensor_proto(proto, name="input"):
    """A NumPy array of a ``TensorProto``: from ``tensor_content`` (little-endian, row-major) or the typed
    ``*_val`` field of its dtype. As TensorFlow's ``MakeNdarray``, fewer typed values than elements are
    padded with the last one (a single value fills the tensor); none give zeros.

    Raises:
        ServingError: INVALID_ARGUMENT for an unsupported dtype, a negative dimension, or a value count
            that does not fit the shape (the message names ``name``).
    """
    if proto.dtype not in _NP:
        raise invalid(f"Input '{name}': unsupported dtype. Received: dtype={proto.dtype}")
    dtype = _NP[proto.dtype]
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    if any(s < 0 for s in shape):
        raise invalid(f"Input '{name}': expected non-negative dimensions. Received: shape={shape}")
    size = int(np.prod(shape, dtype=np.int64))
    if proto.tensor_content:
        if dtype.kind == "O":
            raise invalid(f"Input '{name}': a DT_STRING tensor has no tensor_content; use string_val")
        if len(proto.tensor_content) != size * dtype.itemsize:
            raise invalid(f"Input '{name}': tensor_content of shape {shape} and dtype {dtype.name} needs "
                          f"{size * dtype.itemsize} bytes. Received: {len(proto.tensor_content)} bytes")
        return np.frombuffer(proto.tensor_content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = getattr(proto, _DT["object" if dtype.kind == "O" else dtype.name][1])
    if dtype.kind == "c":
        values = np.asarray(values, dtype=np.float32 if dtype.itemsize == 8 else np.float64).view(dtype)
    elif dtype.name == "float16":
        values = np.asarray(values, dtype=np.uint16).view(np.float16)
    else:
        values = np.asarray(list(values) if dtype.kind == "O" else values, dtype=dtype)
    if len(values) > size:
        raise invalid(f"Input '{name}': shape {shape} holds {size} values. Received: {len(values)} values")
    if len(values) < size:
        fill = values[-1] if len(values) else np.zeros((), dtype)
        values = np.concatenate([values, np.full(size - len(values), fill, dtype=dtype)])
    return values.reshape(shape)


def to_tensor_proto(array, proto):
    """Fills ``proto`` (a ``TensorProto``) with ``array``: dtype, shape, and ``tensor_content`` (string
    arrays: ``string_val``), which TensorFlow's ``make_ndarray`` reads."""
    array = np.asarray(array)
    proto.dtype = datatype(array.dtype)
    for s in array.shape:
        proto.tensor_shape.dim.add().size = s
    if array.dtype.kind in "OSU":
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in array.ravel())
    else:
        proto.tensor_content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return proto


def _has_b64(value):
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, dict)


def _decode_b64(value, name):
    if isinstance(value, list):
        return [_decode_b64(v, name) for v in value]
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise invalid(f"Input '{name}': an object value must be {{\"b64\": \"<base64 string>\"}}. "
                          f"Received: {sorted(value)}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise invalid(f"Input '{name}': the \"b64\" value is not valid base64") from None
    return value


def from_json(value, dtype, name="input"):
    """A NumPy array of ``dtype`` from a JSON value (nested lists of numbers, booleans, strings, or
    ``{"b64": ...}`` objects, the binary strings of TF Serving's REST API, decoded to bytes).

    Raises:
        ServingError: INVALID_ARGUMENT for ragged lists or values that are not of ``dtype``'s kind
            (a string or a b64 value for a numeric input, say); the message names ``name``.
    """
    dtype = np.dtype(dtype)
    if _has_b64(value):
        value = _decode_b64(value, name)
    try:
        if dtype.kind in "OSU":
            return np.asarray(value, dtype=object)
        array = np.asarray(value)
        if array.dtype.kind not in "biufc":
            raise ValueError
        return array.astype(dtype, copy=False)
    except (ValueError, TypeError):
        text = repr(value)
        raise invalid(f"Input '{name}': expected a (nested) list of numbers for dtype {dtype.name}, with rows of "
                      f"equal length. Received: {text[:60] + '...' if len(text) > 60 else text}") from None


def to_json(array):
    """A JSON-ready value of an array: nested lists; bytes as ``{"b64": ...}`` as TF Serving writes them."""
    array = np.asarray(array)
    if array.dtype.kind in "OS":
        def enc(v):
            return {"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v
        return np.vectorize(enc, otypes=[object])(array).tolist() if array.ndim else enc(array.item())
    return array.tolist()
