"""gpuflow.keras.utils.summary_utils against the exact text of Keras 3's
``model.summary()``.

Reference text: captured from Keras 3.15.1 with rich 15.0.0 (TensorFlow
2.21.0, tensorflow-cpu wheel, Python 3.11, Linux).  For every case the Keras
model was built, its rows (name (Type), output shape, params, connected-to,
trainable flag) and parameter totals were read the way
keras/src/utils/summary_utils.py reads them, and the printed text was captured:

  plain   ``model.summary(print_fn=...)``, which is also what Keras prints when
          stdout is not a terminal;
  tty16   stdout a terminal with TERM=xterm (rich's 16-colour codes);
  tty256  stdout a terminal with TERM=xterm-256color (8-bit colour codes).

``columns`` is the $COLUMNS the capture ran with (it sets both the default
line length, min(88, columns - 4), and the width rich crops lines at).  The
script that regenerates ``CASES`` is /work/keras_ref/gen_summary_ref.py (kept
outside the repository with raw pty/pipe captures, summary_pty*.raw and
summary_pipe.txt).
"""
import io

import pytest

from gpuflow.keras.utils.summary_utils import (
    format_output_shapes,
    format_shape,
    format_summary,
    print_summary,
    readable_memory_size,
)

# Captured by /work/keras_ref/gen_summary_ref.py from keras 3.15.1, rich 15.0.0, tensorflow 2.21.0.
CASES = [
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential',
            rows=[
                ('conv2d (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_1 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_1 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten (Flatten)', '(None, 1600)', 0),
                ('dense (Dense)', '(None, 128)', 204928),
                ('dense_1 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 128)            │       204,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
        tty16="""\
\x1b[1mModel: "sequential"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape          \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m      Param #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (\x1b[94mConv2D\x1b[0m)                 │ (\x1b[96mNone\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m32\x1b[0m)     │           \x1b[32m320\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (\x1b[94mMaxPooling2D\x1b[0m)    │ (\x1b[96mNone\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m32\x1b[0m)     │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (\x1b[94mConv2D\x1b[0m)               │ (\x1b[96mNone\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m64\x1b[0m)     │        \x1b[32m18,496\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (\x1b[94mMaxPooling2D\x1b[0m)  │ (\x1b[96mNone\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m64\x1b[0m)       │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (\x1b[94mFlatten\x1b[0m)               │ (\x1b[96mNone\x1b[0m, \x1b[32m1600\x1b[0m)           │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (\x1b[94mDense\x1b[0m)                   │ (\x1b[96mNone\x1b[0m, \x1b[32m128\x1b[0m)            │       \x1b[32m204,928\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (\x1b[94mDense\x1b[0m)                 │ (\x1b[96mNone\x1b[0m, \x1b[32m10\x1b[0m)             │         \x1b[32m1,290\x1b[0m │
└─────────────────────────────────┴────────────────────────┴───────────────┘
\x1b[1m Total params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
""",
        tty256="""\
\x1b[1mModel: "sequential"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape          \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m      Param #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d (\x1b[38;5;33mConv2D\x1b[0m)                 │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m26\x1b[0m, \x1b[38;5;34m26\x1b[0m, \x1b[38;5;34m32\x1b[0m)     │           \x1b[38;5;34m320\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d (\x1b[38;5;33mMaxPooling2D\x1b[0m)    │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m13\x1b[0m, \x1b[38;5;34m13\x1b[0m, \x1b[38;5;34m32\x1b[0m)     │             \x1b[38;5;34m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_1 (\x1b[38;5;33mConv2D\x1b[0m)               │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m11\x1b[0m, \x1b[38;5;34m11\x1b[0m, \x1b[38;5;34m64\x1b[0m)     │        \x1b[38;5;34m18,496\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_1 (\x1b[38;5;33mMaxPooling2D\x1b[0m)  │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m5\x1b[0m, \x1b[38;5;34m5\x1b[0m, \x1b[38;5;34m64\x1b[0m)       │             \x1b[38;5;34m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (\x1b[38;5;33mFlatten\x1b[0m)               │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m1600\x1b[0m)           │             \x1b[38;5;34m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (\x1b[38;5;33mDense\x1b[0m)                   │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m128\x1b[0m)            │       \x1b[38;5;34m204,928\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_1 (\x1b[38;5;33mDense\x1b[0m)                 │ (\x1b[38;5;45mNone\x1b[0m, \x1b[38;5;34m10\x1b[0m)             │         \x1b[38;5;34m1,290\x1b[0m │
└─────────────────────────────────┴────────────────────────┴───────────────┘
\x1b[1m Total params: \x1b[0m\x1b[38;5;34m225,034\x1b[0m (879.04 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[38;5;34m225,034\x1b[0m (879.04 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[38;5;34m0\x1b[0m (0.00 B)
""",
    ),
    dict(
        name='seed_input_shape',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_1',
            rows=[
                ('conv2d_2 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_2 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_3 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_3 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_1 (Flatten)', '(None, 1600)', 0),
                ('dense_2 (Dense)', '(None, 128)', 204928),
                ('dense_3 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_1"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d_2 (Conv2D)               │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_2 (MaxPooling2D)  │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_3 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_3 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten_1 (Flatten)             │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_2 (Dense)                 │ (None, 128)            │       204,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_3 (Dense)                 │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='nested',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_2',
            rows=[
                ('inner (Sequential)', '(None, 32)', 52320),
                ('dense_6 (Dense)', '(None, 10)', 330),
            ],
            total_params=52650,
            trainable_params=52650,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_2"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ inner (Sequential)              │ (None, 32)             │        52,320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_6 (Dense)                 │ (None, 10)             │           330 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 52,650 (205.66 KB)
 Trainable params: 52,650 (205.66 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='nested_expanded',
        columns=80,
        summary_kwargs={'expand_nested': True},
        args=dict(
            model_name='sequential_3',
            rows=[
                ('inner (Sequential)', '(None, 32)', 52320),
                ('   └ dense_7 (Dense)', '(None, 64)', 50240),
                ('   └ dense_8 (Dense)', '(None, 32)', 2080),
                ('dense_9 (Dense)', '(None, 10)', 330),
            ],
            total_params=52650,
            trainable_params=52650,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_3"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ inner (Sequential)              │ (None, 32)             │        52,320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│    └ dense_7 (Dense)            │ (None, 64)             │        50,240 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│    └ dense_8 (Dense)            │ (None, 32)             │         2,080 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_9 (Dense)                 │ (None, 10)             │           330 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 52,650 (205.66 KB)
 Trainable params: 52,650 (205.66 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='frozen',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_4',
            rows=[
                ('conv2d_4 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_4 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_5 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_5 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_2 (Flatten)', '(None, 1600)', 0),
                ('dense_10 (Dense)', '(None, 128)', 204928),
                ('dense_11 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=224714,
            non_trainable_params=320,
        ),
        plain="""\
Model: "sequential_4"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d_4 (Conv2D)               │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_4 (MaxPooling2D)  │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_5 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_5 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten_2 (Flatten)             │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_10 (Dense)                │ (None, 128)            │       204,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_11 (Dense)                │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 224,714 (877.79 KB)
 Non-trainable params: 320 (1.25 KB)
""",
    ),
    dict(
        name='frozen_show_trainable',
        columns=80,
        summary_kwargs={'show_trainable': True},
        args=dict(
            model_name='sequential_5',
            rows=[
                ('conv2d_6 (Conv2D)', '(None, 26, 26, 32)', 320, 'N'),
                ('max_pooling2d_6 (MaxPooling2D)', '(None, 13, 13, 32)', 0, '-'),
                ('conv2d_7 (Conv2D)', '(None, 11, 11, 64)', 18496, 'Y'),
                ('max_pooling2d_7 (MaxPooling2D)', '(None, 5, 5, 64)', 0, '-'),
                ('flatten_3 (Flatten)', '(None, 1600)', 0, '-'),
                ('dense_12 (Dense)', '(None, 128)', 204928, 'Y'),
                ('dense_13 (Dense)', '(None, 10)', 1290, 'Y'),
            ],
            total_params=225034,
            trainable_params=224714,
            non_trainable_params=320,
            show_trainable=True,
        ),
        plain="""\
Model: "sequential_5"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓
┃ Layer (type)                ┃ Output Shape          ┃    Param # ┃ Trai… ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩
│ conv2d_6 (Conv2D)           │ (None, 26, 26, 32)    │        320 │   N   │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ max_pooling2d_6             │ (None, 13, 13, 32)    │          0 │   -   │
│ (MaxPooling2D)              │                       │            │       │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ conv2d_7 (Conv2D)           │ (None, 11, 11, 64)    │     18,496 │   Y   │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ max_pooling2d_7             │ (None, 5, 5, 64)      │          0 │   -   │
│ (MaxPooling2D)              │                       │            │       │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ flatten_3 (Flatten)         │ (None, 1600)          │          0 │   -   │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ dense_12 (Dense)            │ (None, 128)           │    204,928 │   Y   │
├─────────────────────────────┼───────────────────────┼────────────┼───────┤
│ dense_13 (Dense)            │ (None, 10)            │      1,290 │   Y   │
└─────────────────────────────┴───────────────────────┴────────────┴───────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 224,714 (877.79 KB)
 Non-trainable params: 320 (1.25 KB)
""",
    ),
    dict(
        name='unbuilt',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_6',
            rows=[
                ('dense_14 (Dense)', '?', '0 (unbuilt)'),
                ('dense_15 (Dense)', '?', '0 (unbuilt)'),
            ],
            total_params=0,
            trainable_params=0,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_6"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense_14 (Dense)                │ ?                      │   0 (unbuilt) │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_15 (Dense)                │ ?                      │   0 (unbuilt) │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)
""",
        tty16="""\
\x1b[1mModel: "sequential_6"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape          \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m      Param #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense_14 (\x1b[94mDense\x1b[0m)                │ ?                      │   \x1b[32m0\x1b[0m (unbuilt) │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_15 (\x1b[94mDense\x1b[0m)                │ ?                      │   \x1b[32m0\x1b[0m (unbuilt) │
└─────────────────────────────────┴────────────────────────┴───────────────┘
\x1b[1m Total params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
\x1b[1m Trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
""",
    ),
    dict(
        name='named',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='my_model',
            rows=[
                ('my_dense (Dense)', '(None, 3)', 15),
            ],
            total_params=15,
            trainable_params=15,
            non_trainable_params=0,
        ),
        plain="""\
Model: "my_model"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ my_dense (Dense)                │ (None, 3)              │            15 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 15 (60.00 B)
 Trainable params: 15 (60.00 B)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='compiled_fit',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_7',
            rows=[
                ('conv2d_8 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_8 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_9 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_9 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_4 (Flatten)', '(None, 1600)', 0),
                ('dense_16 (Dense)', '(None, 128)', 204928),
                ('dense_17 (Dense)', '(None, 10)', 1290),
            ],
            total_params=675104,
            trainable_params=225034,
            non_trainable_params=0,
            optimizer_params=450070,
        ),
        plain="""\
Model: "sequential_7"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d_8 (Conv2D)               │ (None, 26, 26, 32)     │           320 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_8 (MaxPooling2D)  │ (None, 13, 13, 32)     │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_9 (Conv2D)               │ (None, 11, 11, 64)     │        18,496 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_9 (MaxPooling2D)  │ (None, 5, 5, 64)       │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten_4 (Flatten)             │ (None, 1600)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_16 (Dense)                │ (None, 128)            │       204,928 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_17 (Dense)                │ (None, 10)             │         1,290 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 675,104 (2.58 MB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
 Optimizer params: 450,070 (1.72 MB)
""",
        tty16="""\
\x1b[1mModel: "sequential_7"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape          \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m      Param #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ conv2d_8 (\x1b[94mConv2D\x1b[0m)               │ (\x1b[96mNone\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m32\x1b[0m)     │           \x1b[32m320\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_8 (\x1b[94mMaxPooling2D\x1b[0m)  │ (\x1b[96mNone\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m32\x1b[0m)     │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_9 (\x1b[94mConv2D\x1b[0m)               │ (\x1b[96mNone\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m64\x1b[0m)     │        \x1b[32m18,496\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ max_pooling2d_9 (\x1b[94mMaxPooling2D\x1b[0m)  │ (\x1b[96mNone\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m64\x1b[0m)       │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten_4 (\x1b[94mFlatten\x1b[0m)             │ (\x1b[96mNone\x1b[0m, \x1b[32m1600\x1b[0m)           │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_16 (\x1b[94mDense\x1b[0m)                │ (\x1b[96mNone\x1b[0m, \x1b[32m128\x1b[0m)            │       \x1b[32m204,928\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_17 (\x1b[94mDense\x1b[0m)                │ (\x1b[96mNone\x1b[0m, \x1b[32m10\x1b[0m)             │         \x1b[32m1,290\x1b[0m │
└─────────────────────────────────┴────────────────────────┴───────────────┘
\x1b[1m Total params: \x1b[0m\x1b[32m675,104\x1b[0m (2.58 MB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
\x1b[1m Optimizer params: \x1b[0m\x1b[32m450,070\x1b[0m (1.72 MB)
""",
    ),
    dict(
        name='functional',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='two_branch',
            rows=[
                ('inp (InputLayer)', '(None, 32)', 0, '-'),
                ('a (Dense)', '(None, 16)', 528, 'inp[0][0]'),
                ('b (Dense)', '(None, 16)', 528, 'inp[0][0]'),
                ('add (Add)', '(None, 16)', 0, 'a[0][0], b[0][0]'),
                ('out (Dense)', '(None, 1)', 17, 'add[0][0]'),
            ],
            total_params=1073,
            trainable_params=545,
            non_trainable_params=528,
        ),
        plain="""\
Model: "two_branch"
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ inp (InputLayer)    │ (None, 32)        │          0 │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ a (Dense)           │ (None, 16)        │        528 │ inp[0][0]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ b (Dense)           │ (None, 16)        │        528 │ inp[0][0]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (Add)           │ (None, 16)        │          0 │ a[0][0], b[0][0]  │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out (Dense)         │ (None, 1)         │         17 │ add[0][0]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
 Total params: 1,073 (4.19 KB)
 Trainable params: 545 (2.13 KB)
 Non-trainable params: 528 (2.06 KB)
""",
        tty16="""\
\x1b[1mModel: "two_branch"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)       \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape     \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m   Param #\x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mConnected to     \x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ inp (\x1b[94mInputLayer\x1b[0m)    │ (\x1b[96mNone\x1b[0m, \x1b[32m32\x1b[0m)        │          \x1b[32m0\x1b[0m │ -                 │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ a (\x1b[94mDense\x1b[0m)           │ (\x1b[96mNone\x1b[0m, \x1b[32m16\x1b[0m)        │        \x1b[32m528\x1b[0m │ inp[\x1b[32m0\x1b[0m][\x1b[32m0\x1b[0m]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ b (\x1b[94mDense\x1b[0m)           │ (\x1b[96mNone\x1b[0m, \x1b[32m16\x1b[0m)        │        \x1b[32m528\x1b[0m │ inp[\x1b[32m0\x1b[0m][\x1b[32m0\x1b[0m]         │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ add (\x1b[94mAdd\x1b[0m)           │ (\x1b[96mNone\x1b[0m, \x1b[32m16\x1b[0m)        │          \x1b[32m0\x1b[0m │ a[\x1b[32m0\x1b[0m][\x1b[32m0\x1b[0m], b[\x1b[32m0\x1b[0m][\x1b[32m0\x1b[0m]  │
├─────────────────────┼───────────────────┼────────────┼───────────────────┤
│ out (\x1b[94mDense\x1b[0m)         │ (\x1b[96mNone\x1b[0m, \x1b[32m1\x1b[0m)         │         \x1b[32m17\x1b[0m │ add[\x1b[32m0\x1b[0m][\x1b[32m0\x1b[0m]         │
└─────────────────────┴───────────────────┴────────────┴───────────────────┘
\x1b[1m Total params: \x1b[0m\x1b[32m1,073\x1b[0m (4.19 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m545\x1b[0m (2.13 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m528\x1b[0m (2.06 KB)
""",
    ),
    dict(
        name='functional',
        columns=200,
        summary_kwargs={},
        args=dict(
            model_name='two_branch',
            rows=[
                ('inp (InputLayer)', '(None, 32)', 0, '-'),
                ('a (Dense)', '(None, 16)', 528, 'inp[0][0]'),
                ('b (Dense)', '(None, 16)', 528, 'inp[0][0]'),
                ('add (Add)', '(None, 16)', 0, 'a[0][0], b[0][0]'),
                ('out (Dense)', '(None, 1)', 17, 'add[0][0]'),
            ],
            total_params=1073,
            trainable_params=545,
            non_trainable_params=528,
        ),
        plain="""\
Model: "two_branch"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                  ┃ Output Shape              ┃         Param # ┃ Connected to               ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ inp (InputLayer)              │ (None, 32)                │               0 │ -                          │
├───────────────────────────────┼───────────────────────────┼─────────────────┼────────────────────────────┤
│ a (Dense)                     │ (None, 16)                │             528 │ inp[0][0]                  │
├───────────────────────────────┼───────────────────────────┼─────────────────┼────────────────────────────┤
│ b (Dense)                     │ (None, 16)                │             528 │ inp[0][0]                  │
├───────────────────────────────┼───────────────────────────┼─────────────────┼────────────────────────────┤
│ add (Add)                     │ (None, 16)                │               0 │ a[0][0], b[0][0]           │
├───────────────────────────────┼───────────────────────────┼─────────────────┼────────────────────────────┤
│ out (Dense)                   │ (None, 1)                 │              17 │ add[0][0]                  │
└───────────────────────────────┴───────────────────────────┴─────────────────┴────────────────────────────┘
 Total params: 1,073 (4.19 KB)
 Trainable params: 545 (2.13 KB)
 Non-trainable params: 528 (2.06 KB)
""",
    ),
    dict(
        name='functional_show_trainable',
        columns=200,
        summary_kwargs={'show_trainable': True},
        args=dict(
            model_name='two_branch',
            rows=[
                ('inp (InputLayer)', '(None, 32)', 0, '-', '-'),
                ('a (Dense)', '(None, 16)', 528, 'inp[0][0]', 'Y'),
                ('b (Dense)', '(None, 16)', 528, 'inp[0][0]', 'N'),
                ('add (Add)', '(None, 16)', 0, 'a[0][0], b[0][0]', '-'),
                ('out (Dense)', '(None, 1)', 17, 'add[0][0]', 'Y'),
            ],
            total_params=1073,
            trainable_params=545,
            non_trainable_params=528,
            show_trainable=True,
        ),
        plain="""\
Model: "two_branch"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
┃ Layer (type)                  ┃ Output Shape              ┃          Param # ┃ Connected to              ┃ Trainable ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
│ inp (InputLayer)              │ (None, 32)                │                0 │ -                         │     -     │
├───────────────────────────────┼───────────────────────────┼──────────────────┼───────────────────────────┼───────────┤
│ a (Dense)                     │ (None, 16)                │              528 │ inp[0][0]                 │     Y     │
├───────────────────────────────┼───────────────────────────┼──────────────────┼───────────────────────────┼───────────┤
│ b (Dense)                     │ (None, 16)                │              528 │ inp[0][0]                 │     N     │
├───────────────────────────────┼───────────────────────────┼──────────────────┼───────────────────────────┼───────────┤
│ add (Add)                     │ (None, 16)                │                0 │ a[0][0], b[0][0]          │     -     │
├───────────────────────────────┼───────────────────────────┼──────────────────┼───────────────────────────┼───────────┤
│ out (Dense)                   │ (None, 1)                 │               17 │ add[0][0]                 │     Y     │
└───────────────────────────────┴───────────────────────────┴──────────────────┴───────────────────────────┴───────────┘
 Total params: 1,073 (4.19 KB)
 Trainable params: 545 (2.13 KB)
 Non-trainable params: 528 (2.06 KB)
""",
    ),
    dict(
        name='functional_seq_like',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='functional_10',
            rows=[
                ('input_layer_10 (InputLayer)', '(None, 28, 28, 1)', 0),
                ('conv2d_10 (Conv2D)', '(None, 26, 26, 8)', 80),
                ('flatten_5 (Flatten)', '(None, 5408)', 0),
                ('dense_18 (Dense)', '(None, 10)', 54090),
            ],
            total_params=54170,
            trainable_params=54170,
            non_trainable_params=0,
        ),
        plain="""\
Model: "functional_10"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer_10 (InputLayer)     │ (None, 28, 28, 1)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d_10 (Conv2D)              │ (None, 26, 26, 8)      │            80 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten_5 (Flatten)             │ (None, 5408)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_18 (Dense)                │ (None, 10)             │        54,090 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 54,170 (211.60 KB)
 Trainable params: 54,170 (211.60 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=60,
        summary_kwargs={},
        args=dict(
            model_name='sequential_8',
            rows=[
                ('conv2d_11 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_10 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_12 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_11 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_6 (Flatten)', '(None, 1600)', 0),
                ('dense_19 (Dense)', '(None, 128)', 204928),
                ('dense_20 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_8"
┏━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
┃ Layer (type)           ┃ Output Shape    ┃   Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
│ conv2d_11 (Conv2D)     │ (None, 26, 26,  │       320 │
│                        │ 32)             │           │
├────────────────────────┼─────────────────┼───────────┤
│ max_pooling2d_10       │ (None, 13, 13,  │         0 │
│ (MaxPooling2D)         │ 32)             │           │
├────────────────────────┼─────────────────┼───────────┤
│ conv2d_12 (Conv2D)     │ (None, 11, 11,  │    18,496 │
│                        │ 64)             │           │
├────────────────────────┼─────────────────┼───────────┤
│ max_pooling2d_11       │ (None, 5, 5,    │         0 │
│ (MaxPooling2D)         │ 64)             │           │
├────────────────────────┼─────────────────┼───────────┤
│ flatten_6 (Flatten)    │ (None, 1600)    │         0 │
├────────────────────────┼─────────────────┼───────────┤
│ dense_19 (Dense)       │ (None, 128)     │   204,928 │
├────────────────────────┼─────────────────┼───────────┤
│ dense_20 (Dense)       │ (None, 10)      │     1,290 │
└────────────────────────┴─────────────────┴───────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=120,
        summary_kwargs={},
        args=dict(
            model_name='sequential_9',
            rows=[
                ('conv2d_13 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_12 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_14 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_13 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_7 (Flatten)', '(None, 1600)', 0),
                ('dense_21 (Dense)', '(None, 128)', 204928),
                ('dense_22 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_9"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ conv2d_13 (Conv2D)                   │ (None, 26, 26, 32)          │             320 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d_12 (MaxPooling2D)      │ (None, 13, 13, 32)          │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ conv2d_14 (Conv2D)                   │ (None, 11, 11, 64)          │          18,496 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d_13 (MaxPooling2D)      │ (None, 5, 5, 64)            │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ flatten_7 (Flatten)                  │ (None, 1600)                │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_21 (Dense)                     │ (None, 128)                 │         204,928 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_22 (Dense)                     │ (None, 10)                  │           1,290 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={'line_length': 60},
        args=dict(
            model_name='sequential_10',
            rows=[
                ('conv2d_15 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_14 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_16 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_15 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_8 (Flatten)', '(None, 1600)', 0),
                ('dense_23 (Dense)', '(None, 128)', 204928),
                ('dense_24 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
            line_length=60,
        ),
        plain="""\
Model: "sequential_10"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
┃ Layer (type)             ┃ Output Shape      ┃   Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
│ conv2d_15 (Conv2D)       │ (None, 26, 26,    │       320 │
│                          │ 32)               │           │
├──────────────────────────┼───────────────────┼───────────┤
│ max_pooling2d_14         │ (None, 13, 13,    │         0 │
│ (MaxPooling2D)           │ 32)               │           │
├──────────────────────────┼───────────────────┼───────────┤
│ conv2d_16 (Conv2D)       │ (None, 11, 11,    │    18,496 │
│                          │ 64)               │           │
├──────────────────────────┼───────────────────┼───────────┤
│ max_pooling2d_15         │ (None, 5, 5, 64)  │         0 │
│ (MaxPooling2D)           │                   │           │
├──────────────────────────┼───────────────────┼───────────┤
│ flatten_8 (Flatten)      │ (None, 1600)      │         0 │
├──────────────────────────┼───────────────────┼───────────┤
│ dense_23 (Dense)         │ (None, 128)       │   204,928 │
├──────────────────────────┼───────────────────┼───────────┤
│ dense_24 (Dense)         │ (None, 10)        │     1,290 │
└──────────────────────────┴───────────────────┴───────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={'line_length': 40},
        args=dict(
            model_name='sequential_11',
            rows=[
                ('conv2d_17 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_16 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_18 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_17 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_9 (Flatten)', '(None, 1600)', 0),
                ('dense_25 (Dense)', '(None, 128)', 204928),
                ('dense_26 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
            line_length=40,
        ),
        plain="""\
Model: "sequential_11"
┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓
┃                 ┃ Output     ┃ Param ┃
┃ Layer (type)    ┃ Shape      ┃     # ┃
┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩
│ conv2d_17       │ (None, 26, │   320 │
│ (Conv2D)        │ 26, 32)    │       │
├─────────────────┼────────────┼───────┤
│ max_pooling2d_… │ (None, 13, │     0 │
│ (MaxPooling2D)  │ 13, 32)    │       │
├─────────────────┼────────────┼───────┤
│ conv2d_18       │ (None, 11, │ 18,4… │
│ (Conv2D)        │ 11, 64)    │       │
├─────────────────┼────────────┼───────┤
│ max_pooling2d_… │ (None, 5,  │     0 │
│ (MaxPooling2D)  │ 5, 64)     │       │
├─────────────────┼────────────┼───────┤
│ flatten_9       │ (None,     │     0 │
│ (Flatten)       │ 1600)      │       │
├─────────────────┼────────────┼───────┤
│ dense_25        │ (None,     │ 204,… │
│ (Dense)         │ 128)       │       │
├─────────────────┼────────────┼───────┤
│ dense_26        │ (None, 10) │ 1,290 │
│ (Dense)         │            │       │
└─────────────────┴────────────┴───────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
        tty16="""\
\x1b[1mModel: "sequential_11"\x1b[0m
┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓
┃\x1b[1m                 \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput    \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mParam\x1b[0m\x1b[1m \x1b[0m┃
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mShape     \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m    #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩
│ conv2d_17       │ (\x1b[96mNone\x1b[0m, \x1b[32m26\x1b[0m, │   \x1b[32m320\x1b[0m │
│ (\x1b[94mConv2D\x1b[0m)        │ \x1b[32m26\x1b[0m, \x1b[32m32\x1b[0m)    │       │
├─────────────────┼────────────┼───────┤
│ max_pooling2d_… │ (\x1b[96mNone\x1b[0m, \x1b[32m13\x1b[0m, │     \x1b[32m0\x1b[0m │
│ (\x1b[94mMaxPooling2D\x1b[0m)  │ \x1b[32m13\x1b[0m, \x1b[32m32\x1b[0m)    │       │
├─────────────────┼────────────┼───────┤
│ conv2d_18       │ (\x1b[96mNone\x1b[0m, \x1b[32m11\x1b[0m, │ \x1b[32m18,4…\x1b[0m │
│ (\x1b[94mConv2D\x1b[0m)        │ \x1b[32m11\x1b[0m, \x1b[32m64\x1b[0m)    │       │
├─────────────────┼────────────┼───────┤
│ max_pooling2d_… │ (\x1b[96mNone\x1b[0m, \x1b[32m5\x1b[0m,  │     \x1b[32m0\x1b[0m │
│ (\x1b[94mMaxPooling2D\x1b[0m)  │ \x1b[32m5\x1b[0m, \x1b[32m64\x1b[0m)     │       │
├─────────────────┼────────────┼───────┤
│ flatten_9       │ (\x1b[96mNone\x1b[0m,     │     \x1b[32m0\x1b[0m │
│ (\x1b[94mFlatten\x1b[0m)       │ \x1b[32m1600\x1b[0m)      │       │
├─────────────────┼────────────┼───────┤
│ dense_25        │ (\x1b[96mNone\x1b[0m,     │ \x1b[32m204,…\x1b[0m │
│ (\x1b[94mDense\x1b[0m)         │ \x1b[32m128\x1b[0m)       │       │
├─────────────────┼────────────┼───────┤
│ dense_26        │ (\x1b[96mNone\x1b[0m, \x1b[32m10\x1b[0m) │ \x1b[32m1,290\x1b[0m │
│ (\x1b[94mDense\x1b[0m)         │            │       │
└─────────────────┴────────────┴───────┘
\x1b[1m Total params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={'line_length': 120},
        args=dict(
            model_name='sequential_12',
            rows=[
                ('conv2d_19 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_18 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_20 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_19 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_10 (Flatten)', '(None, 1600)', 0),
                ('dense_27 (Dense)', '(None, 128)', 204928),
                ('dense_28 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
            line_length=120,
        ),
        plain="""\
Model: "sequential_12"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━
┃ Layer (type)                                        ┃ Output Shape           \x20
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━
│ conv2d_19 (Conv2D)                                  │ (None, 26, 26, 32)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ max_pooling2d_18 (MaxPooling2D)                     │ (None, 13, 13, 32)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ conv2d_20 (Conv2D)                                  │ (None, 11, 11, 64)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ max_pooling2d_19 (MaxPooling2D)                     │ (None, 5, 5, 64)       \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ flatten_10 (Flatten)                                │ (None, 1600)           \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ dense_27 (Dense)                                    │ (None, 128)            \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ dense_28 (Dense)                                    │ (None, 10)             \x20
└─────────────────────────────────────────────────────┴─────────────────────────
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
        tty16="""\
\x1b[1mModel: "sequential_12"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                                       \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape            \x1b[0m
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━
│ conv2d_19 (\x1b[94mConv2D\x1b[0m)                                  │ (\x1b[96mNone\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m26\x1b[0m, \x1b[32m32\x1b[0m)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ max_pooling2d_18 (\x1b[94mMaxPooling2D\x1b[0m)                     │ (\x1b[96mNone\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m13\x1b[0m, \x1b[32m32\x1b[0m)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ conv2d_20 (\x1b[94mConv2D\x1b[0m)                                  │ (\x1b[96mNone\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m11\x1b[0m, \x1b[32m64\x1b[0m)     \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ max_pooling2d_19 (\x1b[94mMaxPooling2D\x1b[0m)                     │ (\x1b[96mNone\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m5\x1b[0m, \x1b[32m64\x1b[0m)       \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ flatten_10 (\x1b[94mFlatten\x1b[0m)                                │ (\x1b[96mNone\x1b[0m, \x1b[32m1600\x1b[0m)           \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ dense_27 (\x1b[94mDense\x1b[0m)                                    │ (\x1b[96mNone\x1b[0m, \x1b[32m128\x1b[0m)            \x20
├─────────────────────────────────────────────────────┼─────────────────────────
│ dense_28 (\x1b[94mDense\x1b[0m)                                    │ (\x1b[96mNone\x1b[0m, \x1b[32m10\x1b[0m)             \x20
└─────────────────────────────────────────────────────┴─────────────────────────
\x1b[1m Total params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m225,034\x1b[0m (879.04 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={'line_length': 100, 'positions': [0.5, 0.75, 1.0]},
        args=dict(
            model_name='sequential_13',
            rows=[
                ('conv2d_21 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_20 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_22 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_21 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_11 (Flatten)', '(None, 1600)', 0),
                ('dense_29 (Dense)', '(None, 128)', 204928),
                ('dense_30 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
            line_length=100,
            positions=(0.5, 0.75, 1.0),
        ),
        plain="""\
Model: "sequential_13"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━
┃ Layer (type)                                    ┃ Output Shape          ┃    \x20
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━
│ conv2d_21 (Conv2D)                              │ (None, 26, 26, 32)    │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ max_pooling2d_20 (MaxPooling2D)                 │ (None, 13, 13, 32)    │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ conv2d_22 (Conv2D)                              │ (None, 11, 11, 64)    │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ max_pooling2d_21 (MaxPooling2D)                 │ (None, 5, 5, 64)      │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ flatten_11 (Flatten)                            │ (None, 1600)          │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ dense_29 (Dense)                                │ (None, 128)           │    \x20
├─────────────────────────────────────────────────┼───────────────────────┼─────
│ dense_30 (Dense)                                │ (None, 10)            │    \x20
└─────────────────────────────────────────────────┴───────────────────────┴─────
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='big',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='sequential_14',
            rows=[
                ('dense_31 (Dense)', '(None, 4096)', 16781312),
                ('dense_32 (Dense)', '(None, 4096)', 16781312),
                ('dense_33 (Dense)', '(None, 1000)', 4097000),
            ],
            total_params=37659624,
            trainable_params=37659624,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_14"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ dense_31 (Dense)                │ (None, 4096)           │    16,781,312 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_32 (Dense)                │ (None, 4096)           │    16,781,312 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_33 (Dense)                │ (None, 1000)           │     4,097,000 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 37,659,624 (143.66 MB)
 Trainable params: 37,659,624 (143.66 MB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='lstm_bn',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='functional_18',
            rows=[
                ('input_layer_18 (InputLayer)', '(None, None, 8)', 0),
                ('lstm (LSTM)', '(None, None, 16)', 1600),
                ('batch_normalization (BatchNormalization)', '(None, None, 16)', 64),
                ('dense_34 (Dense)', '(None, None, 3)', 51),
            ],
            total_params=1715,
            trainable_params=1683,
            non_trainable_params=32,
        ),
        plain="""\
Model: "functional_18"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer_18 (InputLayer)     │ (None, None, 8)        │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm (LSTM)                     │ (None, None, 16)       │         1,600 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ batch_normalization             │ (None, None, 16)       │            64 │
│ (BatchNormalization)            │                        │               │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_34 (Dense)                │ (None, None, 3)        │            51 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,715 (6.70 KB)
 Trainable params: 1,683 (6.57 KB)
 Non-trainable params: 32 (128.00 B)
""",
        tty16="""\
\x1b[1mModel: "functional_18"\x1b[0m
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer (type)                   \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOutput Shape          \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m      Param #\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer_18 (\x1b[94mInputLayer\x1b[0m)     │ (\x1b[96mNone\x1b[0m, \x1b[96mNone\x1b[0m, \x1b[32m8\x1b[0m)        │             \x1b[32m0\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm (\x1b[94mLSTM\x1b[0m)                     │ (\x1b[96mNone\x1b[0m, \x1b[96mNone\x1b[0m, \x1b[32m16\x1b[0m)       │         \x1b[32m1,600\x1b[0m │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ batch_normalization             │ (\x1b[96mNone\x1b[0m, \x1b[96mNone\x1b[0m, \x1b[32m16\x1b[0m)       │            \x1b[32m64\x1b[0m │
│ (\x1b[94mBatchNormalization\x1b[0m)            │                        │               │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense_34 (\x1b[94mDense\x1b[0m)                │ (\x1b[96mNone\x1b[0m, \x1b[96mNone\x1b[0m, \x1b[32m3\x1b[0m)        │            \x1b[32m51\x1b[0m │
└─────────────────────────────────┴────────────────────────┴───────────────┘
\x1b[1m Total params: \x1b[0m\x1b[32m1,715\x1b[0m (6.70 KB)
\x1b[1m Trainable params: \x1b[0m\x1b[32m1,683\x1b[0m (6.57 KB)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m32\x1b[0m (128.00 B)
""",
    ),
    dict(
        name='long_names',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='model_with_a_name_that_is_long',
            rows=[
                ('a_really_quite_extraordinarily_long_layer_name_indeed (Dense)', '(None, 5)', 55),
                ('short (Dense)', '(None, 5)', 30),
            ],
            total_params=85,
            trainable_params=85,
            non_trainable_params=0,
        ),
        plain="""\
Model: "model_with_a_name_that_is_long"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ a_really_quite_extraordinarily… │ (None, 5)              │            55 │
│ (Dense)                         │                        │               │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ short (Dense)                   │ (None, 5)              │            30 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 85 (340.00 B)
 Trainable params: 85 (340.00 B)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='long_names',
        columns=24,
        summary_kwargs={},
        args=dict(
            model_name='model_with_a_name_that_is_long',
            rows=[
                ('a_really_quite_extraordinarily_long_layer_name_indeed (Dense)', '(None, 5)', 55),
                ('short (Dense)', '(None, 5)', 30),
            ],
            total_params=85,
            trainable_params=85,
            non_trainable_params=0,
        ),
        plain="""\
Model:\x20
"model_with_a_name_that_
is_long"
┏━━━━━━━━┳━━━━━┳━━━┓
┃ Layer  ┃ Ou… ┃ … ┃
┃ (type) ┃ Sh… ┃ # ┃
┡━━━━━━━━╇━━━━━╇━━━┩
│ a_rea… │ (N… │ … │
│ (Dens… │ 5)  │   │
├────────┼─────┼───┤
│ short  │ (N… │ … │
│ (Dens… │ 5)  │   │
└────────┴─────┴───┘
 Total params: 85\x20
(340.00 B)
 Trainable params: 85\x20
(340.00 B)
 Non-trainable params: 0
(0.00 B)
""",
        tty16="""\
\x1b[1mModel: \x1b[0m
\x1b[1m"model_with_a_name_that_\x1b[0m
\x1b[1mis_long"\x1b[0m
┏━━━━━━━━┳━━━━━┳━━━┓
┃\x1b[1m \x1b[0m\x1b[1mLayer \x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mOu…\x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m…\x1b[0m\x1b[1m \x1b[0m┃
┃\x1b[1m \x1b[0m\x1b[1m(type)\x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1mSh…\x1b[0m\x1b[1m \x1b[0m┃\x1b[1m \x1b[0m\x1b[1m#\x1b[0m\x1b[1m \x1b[0m┃
┡━━━━━━━━╇━━━━━╇━━━┩
│ a_rea… │ (\x1b[96mN…\x1b[0m │ \x1b[32m…\x1b[0m │
│ (\x1b[94mDens…\x1b[0m │ \x1b[32m5\x1b[0m)  │   │
├────────┼─────┼───┤
│ short  │ (\x1b[96mN…\x1b[0m │ \x1b[32m…\x1b[0m │
│ (\x1b[94mDens…\x1b[0m │ \x1b[32m5\x1b[0m)  │   │
└────────┴─────┴───┘
\x1b[1m Total params: \x1b[0m\x1b[32m85\x1b[0m\x20
(340.00 B)
\x1b[1m Trainable params: \x1b[0m\x1b[32m85\x1b[0m\x20
(340.00 B)
\x1b[1m Non-trainable params: \x1b[0m\x1b[32m0\x1b[0m
(0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=30,
        summary_kwargs={},
        args=dict(
            model_name='sequential_15',
            rows=[
                ('conv2d_23 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_22 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_24 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_23 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_12 (Flatten)', '(None, 1600)', 0),
                ('dense_35 (Dense)', '(None, 128)', 204928),
                ('dense_36 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
        ),
        plain="""\
Model: "sequential_15"
┏━━━━━━━━━━┳━━━━━━━┳━━━━━┓
┃ Layer    ┃ Outp… ┃ Pa… ┃
┃ (type)   ┃ Shape ┃   # ┃
┡━━━━━━━━━━╇━━━━━━━╇━━━━━┩
│ conv2d_… │ (Non… │ 320 │
│ (Conv2D) │ 26,   │     │
│          │ 26,   │     │
│          │ 32)   │     │
├──────────┼───────┼─────┤
│ max_poo… │ (Non… │   0 │
│ (MaxPoo… │ 13,   │     │
│          │ 13,   │     │
│          │ 32)   │     │
├──────────┼───────┼─────┤
│ conv2d_… │ (Non… │ 18… │
│ (Conv2D) │ 11,   │     │
│          │ 11,   │     │
│          │ 64)   │     │
├──────────┼───────┼─────┤
│ max_poo… │ (Non… │   0 │
│ (MaxPoo… │ 5, 5, │     │
│          │ 64)   │     │
├──────────┼───────┼─────┤
│ flatten… │ (Non… │   0 │
│ (Flatte… │ 1600) │     │
├──────────┼───────┼─────┤
│ dense_35 │ (Non… │ 20… │
│ (Dense)  │ 128)  │     │
├──────────┼───────┼─────┤
│ dense_36 │ (Non… │ 1,… │
│ (Dense)  │ 10)   │     │
└──────────┴───────┴─────┘
 Total params: 225,034 (879.04
KB)
 Trainable params: 225,034\x20
(879.04 KB)
 Non-trainable params: 0 (0.00
B)
""",
    ),
    dict(
        name='lstm_state',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='functional_22',
            rows=[
                ('input_layer_22 (InputLayer)', '(None, 5, 8)', 0),
                ('lstm_1 (LSTM)', '[(None, 16), (None, 16), (None, 16)]', 1600),
            ],
            total_params=1600,
            trainable_params=1600,
            non_trainable_params=0,
        ),
        plain="""\
Model: "functional_22"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer_22 (InputLayer)     │ (None, 5, 8)           │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ lstm_1 (LSTM)                   │ [(None, 16), (None,    │         1,600 │
│                                 │ 16), (None, 16)]       │               │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,600 (6.25 KB)
 Trainable params: 1,600 (6.25 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='seed_input',
        columns=80,
        summary_kwargs={'line_length': 70, 'positions': [0.3, 0.6, 0.8]},
        args=dict(
            model_name='sequential_16',
            rows=[
                ('conv2d_25 (Conv2D)', '(None, 26, 26, 32)', 320),
                ('max_pooling2d_24 (MaxPooling2D)', '(None, 13, 13, 32)', 0),
                ('conv2d_26 (Conv2D)', '(None, 11, 11, 64)', 18496),
                ('max_pooling2d_25 (MaxPooling2D)', '(None, 5, 5, 64)', 0),
                ('flatten_13 (Flatten)', '(None, 1600)', 0),
                ('dense_37 (Dense)', '(None, 128)', 204928),
                ('dense_38 (Dense)', '(None, 10)', 1290),
            ],
            total_params=225034,
            trainable_params=225034,
            non_trainable_params=0,
            line_length=70,
            positions=(0.3, 0.6, 0.8),
        ),
        plain="""\
Model: "sequential_16"
┏━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━┓
┃ Layer (type)            ┃ Output Shape            ┃        Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━┩
│ conv2d_25 (Conv2D)      │ (None, 26, 26, 32)      │            320 │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ max_pooling2d_24        │ (None, 13, 13, 32)      │              0 │
│ (MaxPooling2D)          │                         │                │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ conv2d_26 (Conv2D)      │ (None, 11, 11, 64)      │         18,496 │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ max_pooling2d_25        │ (None, 5, 5, 64)        │              0 │
│ (MaxPooling2D)          │                         │                │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ flatten_13 (Flatten)    │ (None, 1600)            │              0 │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ dense_37 (Dense)        │ (None, 128)             │        204,928 │
├─────────────────────────┼─────────────────────────┼────────────────┤
│ dense_38 (Dense)        │ (None, 10)              │          1,290 │
└─────────────────────────┴─────────────────────────┴────────────────┘
 Total params: 225,034 (879.04 KB)
 Trainable params: 225,034 (879.04 KB)
 Non-trainable params: 0 (0.00 B)
""",
    ),
    dict(
        name='empty',
        columns=80,
        summary_kwargs={},
        args=dict(
            model_name='empty',
            rows=[
            ],
            total_params=0,
            trainable_params=0,
            non_trainable_params=0,
        ),
        plain="""\
Model: "empty"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 0 (0.00 B)
 Trainable params: 0 (0.00 B)
 Non-trainable params: 0 (0.00 B)
""",
    ),
]


def _params(cases, mode):
    out = []
    for c in cases:
        if mode in c:
            kw = ",".join(f"{k}={v}" for k, v in c["summary_kwargs"].items())
            out.append(pytest.param(c, id=f"{c['name']}-{c['columns']}cols-{kw}-{mode}"))
    return out


@pytest.mark.parametrize("case", _params(CASES, "plain"))
def test_plain_text_matches_keras(case):
    got = format_summary(**case["args"], console_width=case["columns"],
                         terminal_columns=case["columns"])
    assert got == case["plain"]


@pytest.mark.parametrize("case", _params(CASES, "tty16"))
def test_terminal_16_colour_text_matches_keras(case):
    got = format_summary(**case["args"], color_system="standard",
                         console_width=case["columns"], terminal_columns=case["columns"])
    assert got == case["tty16"]


@pytest.mark.parametrize("case", _params(CASES, "tty256"))
def test_terminal_256_colour_text_matches_keras(case):
    for system in ("256", "truecolor"):  # palette colours print the same in both
        got = format_summary(**case["args"], color_system=system,
                             console_width=case["columns"], terminal_columns=case["columns"])
        assert got == case["tty256"]


def _case(name, columns=80, **summary_kwargs):
    for c in CASES:
        if c["name"] == name and c["columns"] == columns and c["summary_kwargs"] == summary_kwargs:
            return c
    raise KeyError(name)


class FakeStream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("COLORTERM", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "80")  # read by shutil and by the crop width
    monkeypatch.setenv("TERM", "xterm")
    return monkeypatch


def test_print_fn_is_called_once_with_the_whole_plain_text(clean_env):
    case = _case("seed_input")
    calls = []
    print_summary(**case["args"], print_fn=calls.append)
    assert calls == [case["plain"]]


def test_print_to_a_pipe_is_plain(clean_env):
    case = _case("functional")
    out = FakeStream(tty=False)
    print_summary(**case["args"], stream=out)
    assert out.getvalue() == case["plain"]


def test_print_to_a_terminal_uses_term_for_colours(clean_env):
    case = _case("seed_input")
    out = FakeStream(tty=True)
    print_summary(**case["args"], stream=out)
    assert out.getvalue() == case["tty16"]
    clean_env.setenv("TERM", "xterm-256color")
    out = FakeStream(tty=True)
    print_summary(**case["args"], stream=out)
    assert out.getvalue() == case["tty256"]
    clean_env.setenv("TERM", "dumb")
    out = FakeStream(tty=True)
    print_summary(**case["args"], stream=out)
    assert out.getvalue() == case["plain"]


def test_no_color_keeps_bold_only(clean_env):
    case = _case("seed_input")
    clean_env.setenv("NO_COLOR", "1")
    out = FakeStream(tty=True)
    print_summary(**case["args"], stream=out)
    text = out.getvalue()
    assert "\x1b[1mModel: \"sequential\"\x1b[0m\n" in text
    assert "\x1b[3" not in text and "\x1b[9" not in text
    assert text.replace("\x1b[1m", "").replace("\x1b[0m", "") == case["plain"]


def test_default_line_length_follows_columns(clean_env):
    case = _case("seed_input", columns=60)
    clean_env.setenv("COLUMNS", "60")
    calls = []
    print_summary(**case["args"], print_fn=calls.append)
    assert calls == [case["plain"]]


def test_bytes_default_to_float32_and_can_be_given():
    case = _case("named")
    text = format_summary(**case["args"], terminal_columns=80)
    assert " Total params: 15 (60.00 B)\n" in text
    args = dict(case["args"], trainable_bytes=30)
    text = format_summary(**args, terminal_columns=80)
    assert " Total params: 15 (30.00 B)\n Trainable params: 15 (30.00 B)\n" in text


def test_too_narrow_raises_keras_error():
    case = _case("seed_input")
    with pytest.raises(ValueError, match="^Insufficient console width to print summary.$"):
        format_summary(**case["args"], line_length=8)


@pytest.mark.parametrize("shape,text", [
    ((None, 26, 26, 32), "(None, 26, 26, 32)"),
    ((None, 10), "(None, 10)"),
    ((None,), "(None)"),
    ((), "()"),
    ([None, None, 8], "(None, None, 8)"),
])
def test_format_shape(shape, text):
    assert format_shape(shape) == text


def test_format_output_shapes():
    assert format_output_shapes(None) == "?"
    assert format_output_shapes((None, 3)) == "(None, 3)"
    assert format_output_shapes([(None, 16), (None, 16), (None, 16)]) == \
        "[(None, 16), (None, 16), (None, 16)]"
    assert format_output_shapes({"a": (None, 3), "b": (None, 4)}) == "{a: (None, 3), b: (None, 4)}"
    assert format_output_shapes([(None, 3)]) == "(None, 3)"


@pytest.mark.parametrize("nbytes,text", [
    (0, "0.00 B"), (60, "60.00 B"), (1023, "1023.00 B"), (1024, "1.00 KB"),
    (225034 * 4, "879.04 KB"), (675104 * 4, "2.58 MB"), (37659624 * 4, "143.66 MB"),
])
def test_readable_memory_size(nbytes, text):
    assert readable_memory_size(nbytes) == text
