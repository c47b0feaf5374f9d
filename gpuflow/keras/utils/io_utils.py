"""Keras's ``keras/src/utils/io_utils.py``: where ``fit``'s messages go."""
from __future__ import annotations

import logging
import sys

from .. import config

__all__ = ["print_msg"]


def print_msg(message, line_break=True):
    """Prints ``message`` to stdout (with a newline unless ``line_break`` is False) and flushes; with interactive
    logging disabled (``keras.config.disable_interactive_logging()``) logs it at INFO level on the ``"gpuflow"``
    logger instead, as Keras's ``io_utils.print_msg``."""
    message = str(message)
    if not config.is_interactive_logging_enabled():
        logging.getLogger("gpuflow").info(message)
        return
    sys.stdout.write(message + "\n" if line_break else message)
    sys.stdout.flush()
