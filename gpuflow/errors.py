"""``tf.errors``: TensorFlow's exception classes, each also a subclass of the Python exception gpuflow raises for
the same kind of failure (``InvalidArgumentError`` is a ValueError, ``OutOfRangeError`` an IndexError, ...), so that
code catching either works."""
from __future__ import annotations

__all__ = ["OpError", "CancelledError", "UnknownError", "InvalidArgumentError", "DeadlineExceededError",
           "NotFoundError", "AlreadyExistsError", "PermissionDeniedError", "ResourceExhaustedError",
           "FailedPreconditionError", "AbortedError", "OutOfRangeError", "UnimplementedError", "InternalError",
           "UnavailableError", "DataLossError", "UnauthenticatedError"]


class OpError(Exception):
    """The base of TensorFlow's op errors (``tf.errors.OpError``): ``OpError(node_def, op, message)``."""

    def __init__(self, node_def=None, op=None, message="", *args):
        super().__init__(message)
        self.node_def, self.op, self.message = node_def, op, message

    def __str__(self):
        return self.message


def _error(name, *bases, doc=""):
    return type(name, (OpError,) + bases, {"__doc__": f"``tf.errors.{name}``{doc}.", "__module__": __name__})


CancelledError = _error("CancelledError")
UnknownError = _error("UnknownError")
InvalidArgumentError = _error("InvalidArgumentError", ValueError, doc=" (also a ValueError)")
DeadlineExceededError = _error("DeadlineExceededError", TimeoutError, doc=" (also a TimeoutError)")
NotFoundError = _error("NotFoundError", FileNotFoundError, doc=" (also a FileNotFoundError)")
AlreadyExistsError = _error("AlreadyExistsError", FileExistsError, doc=" (also a FileExistsError)")
PermissionDeniedError = _error("PermissionDeniedError", PermissionError, doc=" (also a PermissionError)")
ResourceExhaustedError = _error("ResourceExhaustedError", MemoryError, doc=" (also a MemoryError)")
FailedPreconditionError = _error("FailedPreconditionError", RuntimeError, doc=" (also a RuntimeError)")
AbortedError = _error("AbortedError")
OutOfRangeError = _error("OutOfRangeError", IndexError, doc=" (also an IndexError)")
UnimplementedError = _error("UnimplementedError", NotImplementedError, doc=" (also a NotImplementedError)")
InternalError = _error("InternalError", RuntimeError, doc=" (also a RuntimeError)")
UnavailableError = _error("UnavailableError")
DataLossError = _error("DataLossError")
UnauthenticatedError = _error("UnauthenticatedError")
