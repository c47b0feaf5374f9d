"""gpuflow.keras.utils.Progbar against the exact bytes Keras 3 writes.

Reference text: captured from Keras 3.15.1 (TensorFlow 2.21.0, tensorflow-cpu
wheel, Python 3.11, Linux) by running each scenario below through
``keras.utils.Progbar`` with a fake clock and a fake stdout; the script that
regenerates ``CASES`` is /work/keras_ref/gen_progbar_ref.py (kept outside the
repository together with the raw terminal/pipe captures of ``model.fit``:
/work/keras_ref/fit_v*_pty.raw, fit_v*_pipe.raw).

A scenario is ``(name, Progbar kwargs, env, ops, expected)``:
  env["isatty"]  what the fake stdout's isatty() returns;
  env["posix"]   whether the ``posix`` module is in ``sys.modules`` when the
                 bar is constructed (it always is on Linux/macOS, which is why
                 Keras redraws with "\\b"/"\\r" even when stdout is a pipe);
  ops            ("tick", seconds) advances the clock (starts at 1000.0),
                 ("update", current[, values[, finalize]]), ("add", n[, values]).
"""
import io
import sys

import numpy as np  # noqa: F401  (scenarios pass numpy scalars)
import pytest

from gpuflow.keras.utils.progbar import Progbar


# Captured by /work/keras_ref/gen_progbar_ref.py from keras 3.15.1 (tensorflow 2.21.0, numpy 2.4.6).
CASES = [
    (
        'fit_v1_logger',
        {'target': 16, 'verbose': 1, 'unit_name': 'step', 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 1.234), ('update', 1, [('accuracy', 0.1035), ('loss', 2.2435)], False),
         ('tick', 0.031), ('update', 2, [('accuracy', 0.1445), ('loss', 2.1562)], False),
         ('tick', 0.047), ('update', 3, [('accuracy', 0.1855), ('loss', 2.0689)], False),
         ('tick', 0.06), ('update', 4, [('accuracy', 0.2265), ('loss', 1.9816)], False),
         ('tick', 0.052), ('update', 5, [('accuracy', 0.2675), ('loss', 1.8943)], False),
         ('tick', 0.031), ('update', 6, [('accuracy', 0.3085), ('loss', 1.807)], False),
         ('tick', 0.047), ('update', 7, [('accuracy', 0.3495), ('loss', 1.7197)], False),
         ('tick', 0.06), ('update', 8, [('accuracy', 0.3905), ('loss', 1.6324)], False),
         ('tick', 0.052), ('update', 9, [('accuracy', 0.4315), ('loss', 1.5451)], False),
         ('tick', 0.031), ('update', 10, [('accuracy', 0.4725), ('loss', 1.4578)], False),
         ('tick', 0.047), ('update', 11, [('accuracy', 0.5135), ('loss', 1.3705)], False),
         ('tick', 0.06), ('update', 12, [('accuracy', 0.5545), ('loss', 1.2832)], False),
         ('tick', 0.052), ('update', 13, [('accuracy', 0.5955), ('loss', 1.1959)], False),
         ('tick', 0.031), ('update', 14, [('accuracy', 0.6365), ('loss', 1.1086)], False),
         ('tick', 0.047), ('update', 15, [('accuracy', 0.6775), ('loss', 1.0213)], False),
         ('tick', 0.06), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], False),
         ('tick', 0.2), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], True)],
        (
            '\r\x1b[1m 1/16\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m18s\x1b[0m 1s/step - accuracy: 0.1035 - loss: 2.2435'
            + "\b" * 72
            + '\r\x1b[1m 3/16\x1b[0m \x1b[32m━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 39ms/step - accuracy: 0.1855 - loss: 2.0689'
            + "\b" * 73
            + '\r\x1b[1m 4/16\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.2265 - loss: 1.9816'
            + "\b" * 73
            + '\r\x1b[1m 5/16\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.2675 - loss: 1.8943'
            + "\b" * 73
            + '\r\x1b[1m 7/16\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 45ms/step - accuracy: 0.3495 - loss: 1.7197'
            + "\b" * 73
            + '\r\x1b[1m 8/16\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.3905 - loss: 1.6324'
            + "\b" * 73
            + '\r\x1b[1m 9/16\x1b[0m \x1b[32m━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.4315 - loss: 1.5451'
            + "\b" * 73
            + '\r\x1b[1m11/16\x1b[0m \x1b[32m━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.5135 - loss: 1.3705'
            + "\b" * 73
            + '\r\x1b[1m12/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.5545 - loss: 1.2832'
            + "\b" * 73
            + '\r\x1b[1m13/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.5955 - loss: 1.1959'
            + "\b" * 73
            + '\r\x1b[1m15/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.6775 - loss: 1.0213'
            + "\b" * 73
            + '\r\x1b[1m16/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.7185 - loss: 0.9340'
            + "\b" * 73
            + '\r\x1b[1m16/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 61ms/step - accuracy: 0.7185 - loss: 0.9340\n'
        ),
    ),
    (
        'fit_v1_logger_pipe',
        {'target': 16, 'verbose': 1, 'unit_name': 'step', 'stateless_metrics': []},
        {'isatty': False, 'posix': True},
        [('tick', 1.234), ('update', 1, [('accuracy', 0.1035), ('loss', 2.2435)], False),
         ('tick', 0.031), ('update', 2, [('accuracy', 0.1445), ('loss', 2.1562)], False),
         ('tick', 0.047), ('update', 3, [('accuracy', 0.1855), ('loss', 2.0689)], False),
         ('tick', 0.06), ('update', 4, [('accuracy', 0.2265), ('loss', 1.9816)], False),
         ('tick', 0.052), ('update', 5, [('accuracy', 0.2675), ('loss', 1.8943)], False),
         ('tick', 0.031), ('update', 6, [('accuracy', 0.3085), ('loss', 1.807)], False),
         ('tick', 0.047), ('update', 7, [('accuracy', 0.3495), ('loss', 1.7197)], False),
         ('tick', 0.06), ('update', 8, [('accuracy', 0.3905), ('loss', 1.6324)], False),
         ('tick', 0.052), ('update', 9, [('accuracy', 0.4315), ('loss', 1.5451)], False),
         ('tick', 0.031), ('update', 10, [('accuracy', 0.4725), ('loss', 1.4578)], False),
         ('tick', 0.047), ('update', 11, [('accuracy', 0.5135), ('loss', 1.3705)], False),
         ('tick', 0.06), ('update', 12, [('accuracy', 0.5545), ('loss', 1.2832)], False),
         ('tick', 0.052), ('update', 13, [('accuracy', 0.5955), ('loss', 1.1959)], False),
         ('tick', 0.031), ('update', 14, [('accuracy', 0.6365), ('loss', 1.1086)], False),
         ('tick', 0.047), ('update', 15, [('accuracy', 0.6775), ('loss', 1.0213)], False),
         ('tick', 0.06), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], False),
         ('tick', 0.2), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], True)],
        (
            '\r\x1b[1m 1/16\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m18s\x1b[0m 1s/step - accuracy: 0.1035 - loss: 2.2435'
            + "\b" * 72
            + '\r\x1b[1m 3/16\x1b[0m \x1b[32m━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 39ms/step - accuracy: 0.1855 - loss: 2.0689'
            + "\b" * 73
            + '\r\x1b[1m 4/16\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.2265 - loss: 1.9816'
            + "\b" * 73
            + '\r\x1b[1m 5/16\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.2675 - loss: 1.8943'
            + "\b" * 73
            + '\r\x1b[1m 7/16\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 45ms/step - accuracy: 0.3495 - loss: 1.7197'
            + "\b" * 73
            + '\r\x1b[1m 8/16\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.3905 - loss: 1.6324'
            + "\b" * 73
            + '\r\x1b[1m 9/16\x1b[0m \x1b[32m━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.4315 - loss: 1.5451'
            + "\b" * 73
            + '\r\x1b[1m11/16\x1b[0m \x1b[32m━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.5135 - loss: 1.3705'
            + "\b" * 73
            + '\r\x1b[1m12/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.5545 - loss: 1.2832'
            + "\b" * 73
            + '\r\x1b[1m13/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.5955 - loss: 1.1959'
            + "\b" * 73
            + '\r\x1b[1m15/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━\x1b[0m \x1b[1m0s\x1b[0m 46ms/step - accuracy: 0.6775 - loss: 1.0213'
            + "\b" * 73
            + '\r\x1b[1m16/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 47ms/step - accuracy: 0.7185 - loss: 0.9340'
            + "\b" * 73
            + '\r\x1b[1m16/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 61ms/step - accuracy: 0.7185 - loss: 0.9340\n'
        ),
    ),
    (
        'fit_v1_val',
        {'target': 13, 'verbose': 1, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 1.234), ('update', 1, [('accuracy', 0.1035), ('loss', 2.2435)], False),
         ('tick', 0.049), ('update', 2, [('accuracy', 0.1445), ('loss', 2.1562)], False),
         ('tick', 0.049), ('update', 3, [('accuracy', 0.1855), ('loss', 2.0689)], False),
         ('tick', 0.049), ('update', 4, [('accuracy', 0.2265), ('loss', 1.9816)], False),
         ('tick', 0.049), ('update', 5, [('accuracy', 0.2675), ('loss', 1.8943)], False),
         ('tick', 0.049), ('update', 6, [('accuracy', 0.3085), ('loss', 1.807)], False),
         ('tick', 0.049), ('update', 7, [('accuracy', 0.3495), ('loss', 1.7197)], False),
         ('tick', 0.049), ('update', 8, [('accuracy', 0.3905), ('loss', 1.6324)], False),
         ('tick', 0.049), ('update', 9, [('accuracy', 0.4315), ('loss', 1.5451)], False),
         ('tick', 0.049), ('update', 10, [('accuracy', 0.4725), ('loss', 1.4578)], False),
         ('tick', 0.049), ('update', 11, [('accuracy', 0.5135), ('loss', 1.3705)], False),
         ('tick', 0.049), ('update', 12, [('accuracy', 0.5545), ('loss', 1.2832)], False),
         ('tick', 0.049), ('update', 13, [('accuracy', 0.5955), ('loss', 1.1959)], False),
         ('tick', 0.2),
         ('update', 13,
          [('accuracy', 0.5955), ('loss', 1.1959), ('val_accuracy', 0.5902), ('val_loss', 1.2814)],
          True)],
        (
            '\r\x1b[1m 1/13\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m14s\x1b[0m 1s/step - accuracy: 0.1035 - loss: 2.2435'
            + "\b" * 72
            + '\r\x1b[1m 3/13\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.1855 - loss: 2.0689'
            + "\b" * 73
            + '\r\x1b[1m 5/13\x1b[0m \x1b[32m━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.2675 - loss: 1.8943'
            + "\b" * 73
            + '\r\x1b[1m 7/13\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.3495 - loss: 1.7197'
            + "\b" * 73
            + '\r\x1b[1m 9/13\x1b[0m \x1b[32m━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.4315 - loss: 1.5451'
            + "\b" * 73
            + '\r\x1b[1m11/13\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.5135 - loss: 1.3705'
            + "\b" * 73
            + '\r\x1b[1m13/13\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 49ms/step - accuracy: 0.5955 - loss: 1.1959'
            + "\b" * 73
            + '\r\x1b[1m13/13\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 66ms/step - accuracy: 0.5955 - loss: 1.1959 - val_accuracy: 0.5902 - val_loss: 1.2814\n'
        ),
    ),
    (
        'fit_v2_val',
        {'target': 13, 'verbose': 2, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 1.234), ('update', 1, [('accuracy', 0.1035), ('loss', 2.2435)], False),
         ('tick', 0.095), ('update', 2, [('accuracy', 0.1445), ('loss', 2.1562)], False),
         ('tick', 0.095), ('update', 3, [('accuracy', 0.1855), ('loss', 2.0689)], False),
         ('tick', 0.095), ('update', 4, [('accuracy', 0.2265), ('loss', 1.9816)], False),
         ('tick', 0.095), ('update', 5, [('accuracy', 0.2675), ('loss', 1.8943)], False),
         ('tick', 0.095), ('update', 6, [('accuracy', 0.3085), ('loss', 1.807)], False),
         ('tick', 0.095), ('update', 7, [('accuracy', 0.3495), ('loss', 1.7197)], False),
         ('tick', 0.095), ('update', 8, [('accuracy', 0.3905), ('loss', 1.6324)], False),
         ('tick', 0.095), ('update', 9, [('accuracy', 0.4315), ('loss', 1.5451)], False),
         ('tick', 0.095), ('update', 10, [('accuracy', 0.4725), ('loss', 1.4578)], False),
         ('tick', 0.095), ('update', 11, [('accuracy', 0.5135), ('loss', 1.3705)], False),
         ('tick', 0.095), ('update', 12, [('accuracy', 0.5545), ('loss', 1.2832)], False),
         ('tick', 0.095), ('update', 13, [('accuracy', 0.5955), ('loss', 1.1959)], False),
         ('tick', 0.2),
         ('update', 13,
          [('accuracy', 0.5955), ('loss', 1.1959), ('val_accuracy', 0.5902), ('val_loss', 1.2814)],
          True)],
        '13/13 - 3s - 112ms/step - accuracy: 0.5955 - loss: 1.1959 - val_accuracy: 0.5902 - val_loss: 1.2814\n',
    ),
    (
        'fit_v2_pipe',
        {'target': 16, 'verbose': 2, 'stateless_metrics': []},
        {'isatty': False, 'posix': True},
        [('tick', 1.234), ('update', 1, [('accuracy', 0.1035), ('loss', 2.2435)], False),
         ('tick', 0.052), ('update', 2, [('accuracy', 0.1445), ('loss', 2.1562)], False),
         ('tick', 0.052), ('update', 3, [('accuracy', 0.1855), ('loss', 2.0689)], False),
         ('tick', 0.052), ('update', 4, [('accuracy', 0.2265), ('loss', 1.9816)], False),
         ('tick', 0.052), ('update', 5, [('accuracy', 0.2675), ('loss', 1.8943)], False),
         ('tick', 0.052), ('update', 6, [('accuracy', 0.3085), ('loss', 1.807)], False),
         ('tick', 0.052), ('update', 7, [('accuracy', 0.3495), ('loss', 1.7197)], False),
         ('tick', 0.052), ('update', 8, [('accuracy', 0.3905), ('loss', 1.6324)], False),
         ('tick', 0.052), ('update', 9, [('accuracy', 0.4315), ('loss', 1.5451)], False),
         ('tick', 0.052), ('update', 10, [('accuracy', 0.4725), ('loss', 1.4578)], False),
         ('tick', 0.052), ('update', 11, [('accuracy', 0.5135), ('loss', 1.3705)], False),
         ('tick', 0.052), ('update', 12, [('accuracy', 0.5545), ('loss', 1.2832)], False),
         ('tick', 0.052), ('update', 13, [('accuracy', 0.5955), ('loss', 1.1959)], False),
         ('tick', 0.052), ('update', 14, [('accuracy', 0.6365), ('loss', 1.1086)], False),
         ('tick', 0.052), ('update', 15, [('accuracy', 0.6775), ('loss', 1.0213)], False),
         ('tick', 0.052), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], False),
         ('tick', 0.2), ('update', 16, [('accuracy', 0.7185), ('loss', 0.934)], True)],
        '16/16 - 2s - 65ms/step - accuracy: 0.7185 - loss: 0.9340\n',
    ),
    (
        'predict_v1',
        {'target': 8, 'verbose': 1, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.101), ('update', 1, None, False), ('tick', 0.03), ('update', 2, None, False),
         ('tick', 0.04), ('update', 3, None, False), ('tick', 0.014), ('update', 4, None, False),
         ('tick', 0.05), ('update', 5, None, False), ('tick', 0.2), ('update', 8, None, False),
         ('tick', 0.01), ('update', 8, None, True)],
        (
            '\r\x1b[1m1/8\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 101ms/step'
            + "\b" * 38
            + '\r\x1b[1m3/8\x1b[0m \x1b[32m━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 35ms/step '
            + "\b" * 37
            + '\r\x1b[1m5/8\x1b[0m \x1b[32m━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 33ms/step'
            + "\b" * 37
            + '\r\x1b[1m8/8\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 48ms/step'
            + "\b" * 37
            + '\r\x1b[1m8/8\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 49ms/step\n'
        ),
    ),
    (
        'predict_v2',
        {'target': 8, 'verbose': 2, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.101), ('update', 1, None, False), ('tick', 0.3), ('update', 8, None, False),
         ('tick', 0.01), ('update', 8, None, True)],
        '8/8 - 0s - 44ms/step\n',
    ),
    (
        'averaging_default',
        {'target': 10},
        {'isatty': True, 'posix': True},
        [('tick', 0.5), ('add', 1, [('loss', 1.0), ('acc', 0.5)]), ('tick', 0.5),
         ('add', 2, [('loss', 0.7), ('acc', 0.6)]), ('tick', 0.5),
         ('add', 3, [('loss', 0.25), ('acc', 0.9)]), ('tick', 0.5),
         ('add', 4, [('loss', 0.1), ('acc', 1.0)])],
        (
            '\r\x1b[1m 1/10\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m4s\x1b[0m 500ms/step - loss: 1.0000 - acc: 0.5000'
            + "\b" * 69
            + '\r\x1b[1m 3/10\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m1s\x1b[0m 250ms/step - loss: 0.8000 - acc: 0.5667'
            + "\b" * 69
            + '\r\x1b[1m 6/10\x1b[0m \x1b[32m━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 200ms/step - loss: 0.5250 - acc: 0.7333'
            + "\b" * 69
            + '\r\x1b[1m10/10\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 167ms/step - loss: 0.1000 - acc: 1.0000\n'
        ),
    ),
    (
        'stateful_list',
        {'target': 5, 'stateful_metrics': ['acc']},
        {'isatty': True, 'posix': True},
        [('tick', 0.2), ('update', 1, [('loss', 2.0), ('acc', 0.1)]), ('tick', 0.2),
         ('update', 3, [('loss', 1.0), ('acc', 0.3)]), ('tick', 0.2),
         ('update', 5, [('loss', 0.5), ('acc', 0.8)])],
        (
            '\r\x1b[1m1/5\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 200ms/step - loss: 2.0000 - acc: 0.1000'
            + "\b" * 67
            + '\r\x1b[1m3/5\x1b[0m \x1b[32m━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - loss: 1.3333 - acc: 0.3000'
            + "\b" * 67
            + '\r\x1b[1m5/5\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 100ms/step - loss: 0.5000 - acc: 0.8000\n'
        ),
    ),
    (
        'averaging_v2',
        {'target': 4, 'verbose': 2},
        {'isatty': True, 'posix': True},
        [('tick', 0.5), ('update', 1, [('loss', 1.0)]), ('tick', 0.5),
         ('update', 2, [('loss', 0.5)]), ('tick', 0.5), ('update', 4, [('loss', 0.25)])],
        '4/4 - 2s - 333ms/step - loss: 0.2500\n',
    ),
    (
        'unknown_target',
        {'target': None},
        {'isatty': True, 'posix': True},
        [('tick', 0.3), ('update', 1, [('loss', 0.9)]), ('tick', 0.3),
         ('update', 2, [('loss', 0.8)]), ('tick', 0.3), ('update', 100, [('loss', 0.7)]),
         ('tick', 0.3), ('update', 100, [('loss', 0.7)], True)],
        (
            '\r      1/Unknown \x1b[1m0s\x1b[0m 300ms/step - loss: 0.9000'
            + "\b" * 44
            + '\r      2/Unknown \x1b[1m1s\x1b[0m 300ms/step - loss: 0.8500'
            + "\b" * 44
            + '\r    100/Unknown \x1b[1m1s\x1b[0m 6ms/step - loss: 0.7030  '
            + "\b" * 42
            + '\r    100/Unknown \x1b[1m1s\x1b[0m 9ms/step - loss: 0.7000\n'
        ),
    ),
    (
        'unknown_target_v2',
        {'target': None, 'verbose': 2},
        {'isatty': True, 'posix': True},
        [('tick', 0.3), ('update', 1, [('loss', 0.9)]), ('tick', 0.3),
         ('update', 2, [('loss', 0.8)], True)],
        '',
    ),
    (
        'eta_formats',
        {'target': 100000},
        {'isatty': True, 'posix': True},
        [('tick', 0.5), ('update', 1), ('tick', 0.5), ('update', 2), ('tick', 3.0), ('update', 3),
         ('tick', 0.001), ('update', 99970), ('tick', 0.001), ('update', 99999), ('tick', 100.0),
         ('update', 100000)],
        (
            '\r\x1b[1m     1/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m13:53:19\x1b[0m 500ms/step'
            + "\b" * 54
            + '\r\x1b[1m     2/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m13:53:19\x1b[0m 500ms/step'
            + "\b" * 54
            + '\r\x1b[1m     3/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m48:36:34\x1b[0m 2s/step   '
            + "\b" * 51
            + '\r\x1b[1m100000/100000\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m104s\x1b[0m 1ms/step   \n'
        ),
    ),
    (
        'time_units',
        {'target': 1000, 'unit_name': 'sample'},
        {'isatty': True, 'posix': True},
        [('tick', 2.5), ('update', 1), ('tick', 3.0), ('update', 2), ('tick', 0.0002),
         ('update', 3), ('tick', 0.05), ('update', 1000)],
        (
            '\r\x1b[1m   1/1000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m41:37\x1b[0m 2s/sample'
            + "\b" * 46
            + '\r\x1b[1m   2/1000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m49:54\x1b[0m 3s/sample'
            + "\b" * 46
            + '\r\x1b[1m1000/1000\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m6s\x1b[0m 3ms/sample  \n'
        ),
    ),
    (
        'us_per_step',
        {'target': 100000, 'interval': 0.0},
        {'isatty': True, 'posix': True},
        [('tick', 1.0), ('update', 1), ('tick', 0.0005), ('update', 2), ('tick', 4e-05),
         ('update', 3)],
        (
            '\r\x1b[1m     1/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m27:46:39\x1b[0m 1s/step'
            + "\b" * 51
            + '\r\x1b[1m     2/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m49s\x1b[0m 500us/step  '
            + "\b" * 49
            + '\r\x1b[1m     3/100000\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m26s\x1b[0m 270us/step'
        ),
    ),
    (
        'target_zero',
        {'target': 0},
        {'isatty': True, 'posix': True},
        [('tick', 0.2), ('update', 0, [('loss', 0.5)])],
        '\r      0/Unknown \x1b[1m0s\x1b[0m 0s/step - loss: 0.5000\n',
    ),
    (
        'zero_time',
        {'target': 3},
        {'isatty': True, 'posix': True},
        [('update', 0), ('update', 1), ('update', 3)],
        (
            '\r\x1b[1m0/3\x1b[0m \x1b[37m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 0s/step'
            + "\b" * 35
            + '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 0s/step\n'
        ),
    ),
    (
        'small_negative_v1',
        {'target': 2, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.1),
         ('update', 1,
          [('tiny', 1e-05), ('neg', -0.5), ('negtiny', -0.0001), ('big', 12345.678),
           ('zero', 0.0)]),
         ('tick', 0.1),
         ('update', 2,
          [('tiny', 2e-05), ('neg', -0.25), ('negtiny', -0.0002), ('big', 12345.678),
           ('zero', 0.0)])],
        (
            '\r\x1b[1m1/2\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - tiny: 1.0000e-05 - neg: -0.5000 - negtiny: -1.0000e-04 - big: 12345.6780 - zero: 0.0000e+00'
            + "\b" * 132
            + '\r\x1b[1m2/2\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - tiny: 2.0000e-05 - neg: -0.2500 - negtiny: -2.0000e-04 - big: 12345.6780 - zero: 0.0000e+00\n'
        ),
    ),
    (
        'small_negative_v2',
        {'target': 2, 'verbose': 2, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.1),
         ('update', 2,
          [('tiny', 2e-05), ('neg', -0.25), ('negtiny', -0.0002), ('big', 12345.678), ('zero', 0.0),
           ('one', 1)])],
        '2/2 - 0s - 50ms/step - tiny: 2.0000e-05 - neg: -2.5000e-01 - negtiny: -2.0000e-04 - big: 12345.6780 - zero: 0.0000e+00 - one: 1.0000\n',
    ),
    (
        'shrinking_line',
        {'target': 20, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 40.0), ('update', 1, [('loss', 123.4567)]), ('tick', 0.01),
         ('update', 2, [('loss', 1.5)]), ('tick', 0.1), ('update', 3, [('loss', 0.5)]),
         ('tick', 0.1), ('update', 20, [('loss', 0.25)])],
        (
            '\r\x1b[1m 1/20\x1b[0m \x1b[32m━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m12:40\x1b[0m 40s/step - loss: 123.4567'
            + "\b" * 58
            + '\r\x1b[1m 3/20\x1b[0m \x1b[32m━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 55ms/step - loss: 0.5000    '
            + "\b" * 54
            + '\r\x1b[1m20/20\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m40s\x1b[0m 11ms/step - loss: 0.2500\n'
        ),
    ),
    (
        'non_dynamic',
        {'target': 4, 'stateless_metrics': []},
        {'isatty': False, 'posix': False},
        [('tick', 0.1), ('update', 1, [('loss', 0.9)]), ('tick', 0.1),
         ('update', 2, [('loss', 0.8)]), ('tick', 0.1), ('update', 4, [('loss', 0.7)], False),
         ('tick', 0.1), ('update', 4, [('loss', 0.7)], True)],
        '\n\x1b[1m1/4\x1b[0m \x1b[32m━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - loss: 0.9000\n\x1b[1m2/4\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - loss: 0.8000\n\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 67ms/step - loss: 0.7000 \n\x1b[1m4/4\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - loss: 0.7000\n',
    ),
    (
        'width_30_interval_0',
        {'target': 7, 'width': 30, 'interval': 0.0, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.01), ('update', 1, [('a', 1.0)]), ('tick', 0.01), ('update', 2, [('a', 2.0)]),
         ('tick', 0.01), ('update', 5, [('a', 3.0)]), ('tick', 0.01), ('update', 7, [('a', 4.0)])],
        (
            '\r\x1b[1m1/7\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 10ms/step - a: 1.0000'
            + "\b" * 59
            + '\r\x1b[1m2/7\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 10ms/step - a: 2.0000'
            + "\b" * 59
            + '\r\x1b[1m5/7\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 5ms/step - a: 3.0000 '
            + "\b" * 58
            + '\r\x1b[1m7/7\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 5ms/step - a: 4.0000\n'
        ),
    ),
    (
        'throttled',
        {'target': 10, 'stateless_metrics': []},
        {'isatty': True, 'posix': True},
        [('tick', 0.01), ('update', 1), ('tick', 0.01), ('update', 2), ('tick', 0.01),
         ('update', 3), ('tick', 0.03), ('update', 4), ('tick', 0.03), ('update', 5),
         ('tick', 0.001), ('update', 10)],
        (
            '\r\x1b[1m 1/10\x1b[0m \x1b[32m━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 10ms/step'
            + "\b" * 39
            + '\r\x1b[1m 5/10\x1b[0m \x1b[32m━━━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 20ms/step'
            + "\b" * 39
            + '\r\x1b[1m10/10\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 9ms/step \n'
        ),
    ),
    (
        'verbose0',
        {'target': 3, 'verbose': 0},
        {'isatty': True, 'posix': True},
        [('tick', 0.1), ('update', 1, [('loss', 1.0)]), ('tick', 0.1),
         ('update', 3, [('loss', 1.0)])],
        '',
    ),
    (
        'numpy_values',
        {'target': 3},
        {'isatty': True, 'posix': True},
        [('tick', 0.1), ('update', 1, [('loss', np.float32(0.5)), ('n', 3)]), ('tick', 0.1),
         ('update', 3, [('loss', np.float64(0.25)), ('n', 4)])],
        (
            '\r\x1b[1m1/3\x1b[0m \x1b[32m━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━━━\x1b[0m \x1b[1m0s\x1b[0m 100ms/step - loss: 0.5000 - n: 3.0000'
            + "\b" * 65
            + '\r\x1b[1m3/3\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 50ms/step - loss: 0.2500 - n: 4.0000 \n'
        ),
    ),
]


class FakeStdout(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


class FakeClock:
    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now


def run(init, env, ops, monkeypatch):
    clock = FakeClock()
    out = FakeStdout(env["isatty"])
    with monkeypatch.context() as m:
        if not env["posix"]:
            m.delitem(sys.modules, "posix", raising=False)
        m.delitem(sys.modules, "ipykernel", raising=False)
        m.delenv("PYCHARM_HOSTED", raising=False)
        bar = Progbar(**init, stream=out, time_fn=clock)
    for op in ops:
        if op[0] == "tick":
            clock.now += op[1]
        elif op[0] == "update":
            bar.update(*op[1:])
        else:
            bar.add(*op[1:])
    return out.getvalue()


@pytest.mark.parametrize("name,init,env,ops,expected", CASES, ids=[c[0] for c in CASES])
def test_output_is_byte_identical_to_keras(name, init, env, ops, expected, monkeypatch):
    assert run(init, env, ops, monkeypatch) == expected


def test_writes_to_sys_stdout_by_default(capsys):
    clock = FakeClock()
    bar = Progbar(2, verbose=2, time_fn=clock)
    clock.now += 0.5
    bar.update(1, [("loss", 1.0)])
    clock.now += 0.5
    bar.update(2, [("loss", 0.5)])
    # the finalizing update replaces the running average by the value given
    # (Keras does the same: fit's epoch-end logs already hold the epoch mean)
    assert capsys.readouterr().out == "2/2 - 1s - 500ms/step - loss: 0.5000\n"


def test_stateful_and_stateless_lists_are_exclusive():
    with pytest.raises(ValueError, match="stateful_metrics"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_non_utf8_stream_gets_ascii_bar():
    class AsciiStream(io.StringIO):
        encoding = "ascii"

        def isatty(self):
            return True

        def write(self, s):
            s.encode(self.encoding)  # raises UnicodeEncodeError like a real ascii stream
            return super().write(s)

    clock = FakeClock()
    out = AsciiStream()
    bar = Progbar(2, stream=out, time_fn=clock)
    clock.now += 0.1
    bar.update(2)
    assert out.getvalue() == (
        "\r\x1b[1m2/2\x1b[0m \x1b[32m" + "=" * 20 + "\x1b[0m\x1b[37m\x1b[0m \x1b[1m0s\x1b[0m 50ms/step\n"
    )


def test_verbose_0_writes_nothing(capsys):
    bar = Progbar(3, verbose=0)
    bar.update(1, [("loss", 1.0)])
    bar.update(3, [("loss", 1.0)])
    assert capsys.readouterr().out == ""
