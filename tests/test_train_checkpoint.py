"""``gpuflow.train``: Checkpoint save/restore of Keras models, optimizers (deferred slot restoration), Variables and
Modules; CheckpointManager (numbering, max_to_keep, the ``checkpoint`` state file); latest_checkpoint; the load
statuses; atomic writes; the error for TensorFlow's own checkpoint format. TensorFlow 2.21's behaviour (checked by
hand against it): ``save`` returns ``<prefix>-<save_counter>``, the state file holds paths relative to its directory.
"""
import os

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import keras

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
X = np.random.default_rng(0).random((8, 3), dtype=np.float32)
Y = np.random.default_rng(1).random((8, 2), dtype=np.float32)


def make_model(seed=1):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    return model, keras.optimizers.Adam(0.01)


def train_step(model, opt, y=Y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(X) - y) ** 2)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss.numpy())


def test_restore_continues_training_identically(tmp_path):
    model, opt = make_model()
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt)
    for _ in range(3):
        train_step(model, opt)
    path = ckpt.save(str(tmp_path / "ckpt"))
    assert path == str(tmp_path / "ckpt-1") and int(ckpt.save_counter.numpy()) == 1
    assert os.path.exists(path + ".index") and os.path.exists(path + ".data-00000-of-00001")
    uninterrupted = [train_step(model, opt) for _ in range(3)]

    model2, opt2 = make_model(seed=7)  # other initial weights; the optimizer has no slots yet
    ckpt2 = tf.train.Checkpoint(model=model2, optimizer=opt2)
    status = ckpt2.restore(tf.train.latest_checkpoint(str(tmp_path)))
    assert int(opt2.iterations.numpy()) == 3 and int(ckpt2.save_counter.numpy()) == 1
    status.assert_existing_objects_matched()
    with pytest.raises(AssertionError, match="optimizer/_variables/2"):  # the slots wait for apply_gradients
        status.assert_consumed()
    resumed = [train_step(model2, opt2) for _ in range(3)]
    assert resumed == uninterrupted
    for a, b in zip(model.weights + opt.variables, model2.weights + opt2.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    status.assert_consumed()
    assert ckpt2.save(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt-2")


def test_names_and_list_variables(tmp_path):
    model, opt = make_model()
    train_step(model, opt)
    step = tf.Variable(3, dtype="int64")
    mod = tf.Module()
    mod.w = tf.Variable([1.0, 2.0])
    path = tf.train.Checkpoint(model=model, optimizer=opt, step=step, mod=mod).write(str(tmp_path / "w"))
    assert path == str(tmp_path / "w") and not os.path.exists(tmp_path / "checkpoint")  # write: no state file
    names = dict(tf.train.list_variables(path))
    value = "/.ATTRIBUTES/VARIABLE_VALUE"
    assert names["model/layer_with_weights-0/kernel" + value] == [3, 4]
    assert names["model/layer_with_weights-1/bias" + value] == [2]
    assert names["optimizer/_iterations" + value] == []
    assert names["optimizer/_variables/9" + value] == [2]  # Adam: iteration, learning_rate, then 8 slots
    assert names["mod/w" + value] == [2] and names["step" + value] == []
    assert "save_counter" + value not in names  # created by save/restore only
    np.testing.assert_array_equal(tf.train.load_variable(path, "mod/w" + value), [1.0, 2.0])
    np.testing.assert_array_equal(tf.train.load_variable(path, "optimizer/_variables/2" + value),
                                  opt.get_slot(model.layers[0].kernel, "momentum").numpy())
    with pytest.raises(tf.errors.NotFoundError, match="Key nope not found"):
        tf.train.load_variable(path, "nope")
    reader = tf.train.load_checkpoint(path)
    assert reader.get_variable_to_shape_map() == names and reader.has_tensor("step" + value)
    assert reader.get_variable_to_dtype_map()["step" + value] == tf.int64 and reader.get_tensor("step" + value) == 3


def test_deferred_restore_of_unbuilt_subclassed_model(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = keras.layers.Dense(3)
            self.blocks = [keras.layers.Dense(2), keras.layers.Dense(1)]

        def call(self, x):
            return self.blocks[1](self.blocks[0](self.d1(x)))

    net, x = Net(), np.ones((2, 4), np.float32)
    expected = net(x).numpy()
    path = tf.train.Checkpoint(net=net).write(str(tmp_path / "net"))
    assert "net/blocks/1/kernel/.ATTRIBUTES/VARIABLE_VALUE" in dict(tf.train.list_variables(path))
    net2 = Net()
    status = tf.train.Checkpoint(net=net2).read(path)
    status.assert_existing_objects_matched()  # nothing built yet: nothing unmatched
    np.testing.assert_array_equal(net2(x).numpy(), expected)  # the weights took their values when built
    status.assert_consumed()


def test_nested_checkpoint_module_and_later_attribute(tmp_path):
    v, mod = tf.Variable(2.0), tf.Module()
    mod.ws = [tf.Variable([1.0]), tf.Variable([2.0, 3.0])]
    inner = tf.train.Checkpoint(v=v)
    path = tf.train.Checkpoint(inner=inner, mod=mod, d={"a": tf.Variable(4.0)}).save(str(tmp_path / "n"))
    v2, mod2 = tf.Variable(0.0), tf.Module()
    mod2.ws = [tf.Variable([0.0]), tf.Variable([0.0, 0.0])]
    later = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(inner=tf.train.Checkpoint(v=v2), mod=mod2)
    status = ckpt.restore(path)
    assert float(v2.numpy()) == 2.0 and mod2.ws[1].numpy().tolist() == [2.0, 3.0]
    with pytest.raises(AssertionError, match="Unresolved object in checkpoint d/a"):
        status.assert_consumed()
    ckpt.d = {"a": later}  # an attribute added after restore takes its saved value
    assert float(later.numpy()) == 4.0
    status.assert_consumed()


def test_partial_restore_statuses(tmp_path):
    v = tf.Variable(1.0)
    path = tf.train.Checkpoint(v=v, w=tf.Variable(2.0)).write(str(tmp_path / "p"))
    extra = tf.Variable(5.0)
    status = tf.train.Checkpoint(v=tf.Variable(0.0), extra=extra).read(path)
    status.assert_nontrivial_match()
    with pytest.raises(AssertionError, match="Found 1 Python objects that were not bound"):
        status.assert_existing_objects_matched()
    assert status.expect_partial() is status and float(extra.numpy()) == 5.0
    status = tf.train.Checkpoint(other=tf.Variable(0.0)).read(path)
    with pytest.raises(AssertionError, match="Nothing except the root object matched"):
        status.assert_nontrivial_match()
    none = tf.train.Checkpoint(v=v).restore(None)
    for method in (none.assert_consumed, none.assert_existing_objects_matched, none.assert_nontrivial_match):
        with pytest.raises(AssertionError, match=r"No checkpoint specified \(save_path=None\)"):
            method()
    assert none.expect_partial() is none


def test_restore_errors(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))
    with pytest.raises(tf.errors.NotFoundError, match="missing the checkpoint suffix"):
        ckpt.restore(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):  # NotFoundError is also a FileNotFoundError
        ckpt.read(str(tmp_path / "missing"))
    path = ckpt.write(str(tmp_path / "s"))
    with pytest.raises(ValueError, match=r"'v/\.ATTRIBUTES/VARIABLE_VALUE'.*Expected: shape=\(3,\).*"
                                         r"Received: shape=\(2,\)"):
        tf.train.Checkpoint(v=tf.Variable([0.0, 0.0, 0.0])).read(path)
    with pytest.raises(ValueError, match="expecting v to be a trackable object"):
        tf.train.Checkpoint(v=1)
    with pytest.raises(ValueError, match="cannot save an iterator's position"):  # the TF guide's iterator=iter(ds)
        tf.train.Checkpoint(iterator=iter(tf.data.Dataset.range(3)))
    tf_ckpt = os.path.join(FIXTURES, "tf_checkpoint", "ckpt-1")  # written by TensorFlow (make_tf_checkpoint.py)
    with pytest.raises(NotImplementedError, match=r"ckpt-1\.index' is a TensorFlow checkpoint.*Expected a gpuflow "
                                                  "checkpoint"):
        ckpt.restore(tf_ckpt)


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    v = tf.Variable(1.0)
    ckpt = tf.train.Checkpoint(v=v, w=tf.Variable(2.0))
    path = ckpt.write(str(tmp_path / "a"))
    v.assign(9.0)
    calls = []

    def failing(f, key, array):  # the second dataset fails: the data file is half written
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        f.create_dataset(key, data=array)
    monkeypatch.setattr(tf.train, "_write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        ckpt.write(str(tmp_path / "a"))
    assert sorted(os.listdir(tmp_path)) == ["a.data-00000-of-00001", "a.index"]  # no temporary files left
    ckpt.read(path).assert_consumed()
    assert float(v.numpy()) == 1.0


def test_manager_max_to_keep_and_state_file(tmp_path):
    v = tf.Variable(0.0)
    ckpt = tf.train.Checkpoint(v=v)
    directory = str(tmp_path / "m")
    manager = tf.train.CheckpointManager(ckpt, directory, max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == [] and manager.directory == directory
    assert manager.restore_or_initialize() is None
    paths = []
    for _ in range(4):
        v.assign_add(1.0)
        paths.append(manager.save())
    assert paths == [os.path.join(directory, f"ckpt-{i}") for i in range(1, 5)]
    assert sorted(os.listdir(directory)) == ["checkpoint", "ckpt-3.data-00000-of-00001", "ckpt-3.index",
                                             "ckpt-4.data-00000-of-00001", "ckpt-4.index"]
    lines = open(os.path.join(directory, "checkpoint")).read().splitlines()
    assert lines[:3] == ['model_checkpoint_path: "ckpt-4"', 'all_model_checkpoint_paths: "ckpt-3"',
                         'all_model_checkpoint_paths: "ckpt-4"']
    assert [line.split(":")[0] for line in lines[3:]] == ["all_model_checkpoint_timestamps"] * 2 + \
        ["last_preserved_timestamp"]
    assert manager.save(checkpoint_number=10) == os.path.join(directory, "ckpt-10")
    assert int(ckpt.save_counter.numpy()) == 5  # incremented even with a number given
    assert manager.checkpoints == [os.path.join(directory, "ckpt-4"), os.path.join(directory, "ckpt-10")]
    assert tf.train.latest_checkpoint(directory) == os.path.join(directory, "ckpt-10")
    state = tf.train.get_checkpoint_state(directory)
    assert state.all_model_checkpoint_paths == manager.checkpoints
    # a new manager continues from the state file; restore_or_initialize restores the latest
    v2 = tf.Variable(0.0)
    manager2 = tf.train.CheckpointManager(tf.train.Checkpoint(v=v2), directory, max_to_keep=3)
    assert manager2.checkpoints == manager.checkpoints
    assert manager2.restore_or_initialize() == os.path.join(directory, "ckpt-10") and float(v2.numpy()) == 4.0
    with pytest.raises(ValueError, match="positive integer or `None` for `max_to_keep`"):
        tf.train.CheckpointManager(ckpt, directory, max_to_keep=0)


def test_manager_checkpoint_interval_and_latest_checkpoint_misses(tmp_path):
    step = tf.Variable(0, dtype="int64")
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), str(tmp_path), max_to_keep=None,
                                         step_counter=step, checkpoint_interval=2)
    saved = []
    for _ in range(5):
        saved.append(manager.save())
        step.assign_add(1)
    assert [p is not None for p in saved] == [True, False, True, False, True]
    assert len(manager.checkpoints) == 3  # max_to_keep=None keeps all
    assert tf.train.latest_checkpoint(str(tmp_path / "nowhere")) is None
    os.remove(manager.latest_checkpoint + ".index")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None  # the state file names a checkpoint that is gone


class MyMomentum(keras.optimizers.Optimizer):
    """An optimizer written for Keras 3 (build + update_step): its variables exist only after its own build."""

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.m = [self.add_variable_from_reference(v, "m") for v in var_list]

    def update_step(self, gradient, variable, learning_rate):
        m = self.m[self._get_variable_index(variable)]
        self.assign(m, 0.9 * m + gradient)
        self.assign_sub(variable, learning_rate * m)


@pytest.mark.parametrize("make_opt", [lambda: keras.optimizers.Nadam(0.01), lambda: MyMomentum(0.01)],
                         ids=["nadam", "keras3_subclass"])
def test_variables_made_after_the_base_build_are_restored(tmp_path, make_opt):
    model, _ = make_model()
    opt = make_opt()
    train_step(model, opt)
    path = tf.train.Checkpoint(model=model, optimizer=opt).write(str(tmp_path / "o"))
    uninterrupted = [train_step(model, opt) for _ in range(2)]
    model2, _ = make_model(seed=3)
    opt2 = make_opt()
    status = tf.train.Checkpoint(model=model2, optimizer=opt2).read(path)
    assert [train_step(model2, opt2) for _ in range(2)] == uninterrupted
    status.assert_consumed()


def test_values_never_matched_are_not_retried_every_step(tmp_path, monkeypatch):
    model, opt = make_model()
    train_step(model, opt)
    path = tf.train.Checkpoint(optimizer=opt).write(str(tmp_path / "o"))  # slots for 4 variables
    small = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])  # the first layer of make_model()
    opt2 = keras.optimizers.Adam(0.01)
    status = tf.train.Checkpoint(optimizer=opt2).read(path)
    walks = []
    walk = tf.train.CheckpointLoadStatus._walk
    monkeypatch.setattr(tf.train.CheckpointLoadStatus, "_walk", lambda self: walks.append(1) or walk(self))
    for _ in range(3):  # builds the slots of 2 of the 4 variables: the others' values wait forever
        train_step(small, opt2, y=np.zeros((8, 4), np.float32))
    assert len(walks) == 1  # one retry when the slots were made, none at the later steps
    with pytest.raises(AssertionError, match="Unresolved object in checkpoint optimizer/_variables/6"):
        status.assert_consumed()


def test_manager_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    clock = iter(range(0, 10 * 3600, 3600))  # the manager is made at 0 h, then each save comes an hour later

    class FakeTime:
        @staticmethod
        def time():
            return float(next(clock))
    monkeypatch.setattr(tf.train, "time", FakeTime)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(0.0)), str(tmp_path), max_to_keep=1,
                                         keep_checkpoint_every_n_hours=1.5)
    for _ in range(4):
        manager.save()
    # ckpt-1 (1 h) leaves the kept set too soon after the start; ckpt-2 (2 h) is preserved; ckpt-3 (3 h) is within
    # 1.5 h of ckpt-2 and deleted; ckpt-4 is the kept one
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".index")) == ["ckpt-2.index", "ckpt-4.index"]
    assert manager.checkpoints == [str(tmp_path / "ckpt-4")]
    assert tf.train.get_checkpoint_state(str(tmp_path)).last_preserved_timestamp == 7200.0


def test_deferred_restore_of_a_layer_built_in_its_own_call(tmp_path):
    class Block(keras.Model):
        def __init__(self):
            super().__init__()
            self.mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2)  # builds its projections itself
            self.out = keras.layers.Dense(1)

        def call(self, x):
            return self.out(self.mha(x, x))

    x = np.random.default_rng(2).random((2, 3, 4), dtype=np.float32)
    block = Block()
    expected = block(x).numpy()
    path = tf.train.Checkpoint(block=block).write(str(tmp_path / "b"))
    block2 = Block()
    status = tf.train.Checkpoint(block=block2).read(path)
    np.testing.assert_array_equal(block2(x).numpy(), expected)  # restored before the first forward pass used them
    status.assert_consumed()


def test_checkpoints_iterator(tmp_path):
    ckpt = tf.train.Checkpoint(v=tf.Variable(1.0))
    assert list(tf.train.checkpoints_iterator(str(tmp_path), timeout=0)) == []
    first = ckpt.save(str(tmp_path / "c"))
    seen = []
    for path in tf.train.checkpoints_iterator(str(tmp_path), timeout=0, timeout_fn=lambda: len(seen) >= 2):
        seen.append(path)
        if len(seen) == 1:
            second = ckpt.save(str(tmp_path / "c"))  # a new checkpoint appears while the first is evaluated
    assert seen == [first, second]
