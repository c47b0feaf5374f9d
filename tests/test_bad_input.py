"""Bad input to the Keras API fails early and clearly, naming the argument and the value received (issue 10).

Each case says which Keras 3 behaviour it mirrors or, where Keras 3 silently accepts the value or fails deep
inside (``range()``, slicing, a dtype cast), that gpuflow refuses it up front while keeping Keras's accepted range.
Tiny Dense models only: the whole file runs in about a second.
"""
import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)


def tiny(loss="mse", units=2):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(units)])
    model.compile("sgd", loss)
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)).astype("float32"), rng.standard_normal((n, 2)).astype("float32")


# -- fit / evaluate / predict arguments ------------------------------------------------------------------------
# Keras 3 (trainer.py, epoch_iterator.py, array_data_adapter.py) documents these as "Integer" / "Integer or None"
# / "Float between 0 and 1" / "auto, 0, 1 or 2" but checks almost none of them: epochs=-1 trains nothing,
# epochs=2.7 / "3" / None raise TypeError inside range(), validation_split="0.2" a TypeError at `1.0 - split`,
# validation_split=1.5 slices nonsense, verbose=3 silently prints nothing. Each is a ValueError here.
@pytest.mark.parametrize("kwargs,named", [
    (dict(epochs=-1), "epochs=-1"),                # Keras: range(0, -1) is empty, trains nothing silently
    (dict(epochs=2.7), "epochs=2.7"),              # Keras: TypeError in range()
    (dict(epochs=2.0), "epochs=2.0"),              # Keras: TypeError in range() too, even when integral
    (dict(epochs="3"), "epochs='3'"),              # Keras: TypeError in range()
    (dict(epochs=None), "epochs=None"),            # Keras: TypeError in range()
    (dict(epochs=True), "epochs=True"),
    (dict(initial_epoch=-1), "initial_epoch=-1"),
    (dict(initial_epoch=0.5), "initial_epoch=0.5"),
    (dict(validation_split="0.2"), "validation_split='0.2'"),  # Keras: TypeError at 1.0 - "0.2"
    (dict(validation_split=1.0), "validation_split=1.0"),      # Keras: ValueError, nothing left to train on
    (dict(validation_split=1.5), "validation_split=1.5"),      # Keras: slices nonsense silently
    (dict(validation_split=-0.1), "validation_split=-0.1"),
    (dict(validation_split=float("nan")), "validation_split=nan"),
    (dict(batch_size=0), "batch_size=0"),          # Keras: `if not batch_size` makes 0 the default 32
    (dict(batch_size=-4), "batch_size=-4"),        # Keras: a negative number of batches
    (dict(batch_size=2.5), "batch_size=2.5"),      # Keras: fails while slicing
    (dict(batch_size="4"), "batch_size='4'"),      # Keras: TypeError in math.ceil(n / "4")
    (dict(steps_per_epoch=0), "steps_per_epoch=0"),
    (dict(steps_per_epoch=1.5), "steps_per_epoch=1.5"),
    (dict(validation_split=0.25, validation_steps=-1), "validation_steps=-1"),
    (dict(validation_split=0.25, validation_batch_size=0), "validation_batch_size=0"),
    (dict(validation_split=0.25, validation_freq=0), "validation_freq=0"),      # Keras: ZeroDivisionError
    (dict(validation_split=0.25, validation_freq="2"), "validation_freq='2'"),  # Keras's own ValueError
    (dict(verbose=3), "verbose=3"),                # Keras: no progress bar and no error
    (dict(verbose=-1), "verbose=-1"),
    (dict(verbose="1"), "verbose='1'"),
    (dict(verbose=None), "verbose=None"),
])
def test_fit_refuses_bad_arguments_naming_them(kwargs, named):
    model = tiny()
    before = model.get_weights()
    kwargs.setdefault("verbose", 0)
    with pytest.raises(ValueError) as e:
        model.fit(*data(), **kwargs)
    assert named in str(e.value)
    for a, b in zip(before, model.get_weights()):  # refused before any training step
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(epochs=0), dict(epochs=np.int64(0)), dict(epochs=3, initial_epoch=3),
                                    dict(verbose=False), dict(verbose="auto", epochs=0)])
def test_fit_with_no_epoch_to_run_trains_nothing_as_keras(kwargs):
    """Keras 3 accepts epochs=0 (its fit tests `epochs > 0` before finalizing) and epochs <= initial_epoch:
    nothing is trained and the History is empty."""
    model = tiny()
    before = model.get_weights()
    kwargs.setdefault("epochs", 0)
    hist = model.fit(*data(), **{"verbose": 0, **kwargs})
    assert hist.history == {} and hist.epoch == []
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_accepted_values_still_work():
    model = tiny()
    x, y = data(8)
    hist = model.fit(x, y, epochs=np.int32(2), batch_size=np.int64(4), validation_split=np.float32(0.25),
                     validation_freq=[2], verbose=True)
    assert hist.epoch == [0, 1] and len(hist.history["val_loss"]) == 1  # validated on epoch 2 only (a list)
    assert model.fit(x, y, validation_split=0, verbose=0).history.keys() == {"loss"}


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("kwargs,named", [
    (dict(batch_size=0), "batch_size=0"), (dict(batch_size=-1), "batch_size=-1"),
    (dict(batch_size=1.5), "batch_size=1.5"), (dict(steps=0), "steps=0"), (dict(steps=-1), "steps=-1"),
    (dict(steps="2"), "steps='2'"), (dict(verbose=5), "verbose=5"),
])
def test_evaluate_and_predict_refuse_bad_arguments(method, kwargs, named):
    model = tiny()
    x, y = data()
    args = (x, y) if method == "evaluate" else (x,)
    with pytest.raises(ValueError) as e:
        getattr(model, method)(*args, **{"verbose": 0, **kwargs})
    assert named in str(e.value)
