"""``gpuflow.image`` (``tf.image``) against NumPy reference formulas written here and hand-computed values.

The formulas are TensorFlow 2.21's (tensorflow/python/ops/image_ops_impl.py and the kernels it calls); every
function was also compared with the real TensorFlow on random inputs while it was written.
"""
import colorsys
import math

import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients

RNG = np.random.default_rng(7)
IMG = RNG.uniform(0, 1, (2, 5, 6, 3)).astype(np.float32)


def _close(a, b, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=atol)


# -- NumPy references of the resize kernels, one (out, in) matrix per axis ----------------------------------------
def ref_nearest(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        m[i, min(int(math.floor((i + 0.5) * n_in / n_out)), n_in - 1)] = 1
    return m


def ref_bilinear(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        p = (i + 0.5) * n_in / n_out - 0.5
        lo = math.floor(p)
        m[i, min(max(lo, 0), n_in - 1)] += 1 - (p - lo)
        m[i, min(max(lo + 1, 0), n_in - 1)] += p - lo
    return m


def keys(t):
    t = abs(t)
    return 1.5 * t ** 3 - 2.5 * t ** 2 + 1 if t < 1 else (-0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 if t < 2 else 0.0)


def ref_bicubic(n_in, n_out):
    """Keys' cubic (a = -0.5) at the half-pixel sample point, taps outside the image dropped, renormalised."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        p = (i + 0.5) * n_in / n_out - 0.5
        for j in range(math.floor(p) - 1, math.floor(p) + 3):
            if 0 <= j < n_in:
                m[i, j] = keys(j - p)
    return m / m.sum(axis=1, keepdims=True)


def ref_area(n_in, n_out):
    """The mean of the piecewise-constant input over [i s, (i + 1) s), s = in / out, through its integral."""
    s = n_in / n_out
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        for j in range(n_in):
            m[i, j] = max(0.0, min((i + 1) * s, j + 1) - max(i * s, j)) / s
    return m


def ref_lanczos3_antialias(n_in, n_out):
    scale = n_out / n_in
    ks = max(1 / scale, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        p = (i + 0.5) / scale
        for j in range(n_in):
            t = abs(j + 0.5 - p) / ks
            m[i, j] = 1.0 if t <= 1e-3 else (3 * math.sin(math.pi * t) * math.sin(math.pi * t / 3) / (math.pi * t) ** 2
                                             if t <= 3 else 0.0)
    return m / m.sum(axis=1, keepdims=True)


def apply(x, rows, cols):
    return np.einsum("oh,nhwc,pw->nopc", rows, x.astype(np.float64), cols)


# TF's bicubic weights come from a table at 1/1024 steps: exact where the sample points fall on them (here:
# upscaling by 2), so bicubic is checked there only.
RESIZE_CASES = [(method, antialias, ref, size) for method, antialias, ref in [
    ("nearest", False, ref_nearest), ("bilinear", False, ref_bilinear), ("bicubic", False, ref_bicubic),
    ("area", False, ref_area), ("lanczos3", True, ref_lanczos3_antialias)]
    for size in [(10, 12), (3, 4), (7, 5)] if method != "bicubic" or size == (10, 12)]


@pytest.mark.parametrize("method, antialias, ref, size", RESIZE_CASES)
def test_resize_matches_reference(method, antialias, ref, size):
    out = tf.image.resize(IMG, size, method=method, antialias=antialias)
    assert out.dtype == tf.float32 and tuple(out.shape) == (2,) + size + (3,)
    _close(out.numpy(), apply(IMG, ref(5, size[0]), ref(6, size[1])), atol=2e-6)


def test_resize_on_device(device):
    for method, ref in (("nearest", ref_nearest), ("bilinear", ref_bilinear), ("area", ref_area)):
        out = tf.image.resize(tf.constant(IMG), (4, 9), method=method)
        _close(out.numpy(), apply(IMG, ref(5, 4), ref(6, 9)), atol=2e-6)


def test_resize_hand_values_and_dtypes():
    row = np.array([[[0.0], [1.0]]], np.float32)  # (1, 2, 1)
    _close(tf.image.resize(row, (1, 4)).numpy()[0, :, 0], [0, 0.25, 0.75, 1])
    _close(tf.image.resize(row, (1, 4), method="nearest").numpy()[0, :, 0], [0, 0, 1, 1])
    _close(tf.image.resize(row, (1, 1), method="area").numpy().ravel(), [0.5])
    u8 = (IMG * 255).astype(np.uint8)
    near = tf.image.resize(u8, (3, 3), method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    assert near.dtype == tf.uint8 and np.array_equal(near.numpy(), u8[:, [0, 2, 4]][:, :, [1, 3, 5]])
    assert tf.image.resize(u8, (3, 3), method="area").dtype == tf.float32
    assert tf.image.resize(IMG.astype(np.float64), (3, 3)).dtype == tf.float32  # as TensorFlow's kernels
    single = tf.image.resize(IMG[0], (4, 4))
    _close(single.numpy(), tf.image.resize(IMG, (4, 4)).numpy()[0])
    assert tuple(tf.image.resize(IMG, (10, 10), preserve_aspect_ratio=True).shape) == (2, 8, 10, 3)


def test_resize_errors():
    with pytest.raises(ValueError, match="images.shape=\\(5, 6\\)"):
        tf.image.resize(IMG[0, :, :, 0], (2, 2))
    with pytest.raises(ValueError, match="size"):
        tf.image.resize(IMG, (2, 2, 2))
    with pytest.raises(ValueError, match="method='cubic'"):
        tf.image.resize(IMG, (2, 2), method="cubic")
    with pytest.raises(tf.errors.InvalidArgumentError, match="positive"):
        tf.image.resize(IMG, (0, 2))


@pytest.mark.parametrize("method, ref", [("bilinear", ref_bilinear), ("bicubic", ref_bicubic), ("area", ref_area)])
def test_resize_gradient_is_the_adjoint(method, ref):
    x = tf.Variable(IMG)
    upstream = RNG.normal(size=(2, 10, 12, 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        y = tf.image.resize(x, (10, 12), method=method)
        loss = tf.reduce_sum(y * upstream)
    rows, cols = ref(5, 10), ref(6, 12)
    _close(tape.gradient(loss, x).numpy(), np.einsum("oh,nopc,pw->nhwc", rows, upstream, cols), atol=1e-5)


def test_resize_with_pad_and_crop_or_pad():
    img = np.arange(2 * 4 * 1, dtype=np.float32).reshape(2, 4, 1)
    padded = tf.image.resize_with_pad(img, 4, 4).numpy()  # scale 1: the image, 1 zero row above and below
    _close(padded[:, :, 0], np.vstack([np.zeros(4), img[:, :, 0], np.zeros(4)]))
    assert tuple(tf.image.resize_with_pad(IMG, 9, 4).shape) == (2, 9, 4, 3)
    out = tf.image.resize_with_crop_or_pad(img, 3, 2).numpy()[:, :, 0]  # crop columns 1..2, pad a row below
    _close(out, [[1, 2], [5, 6], [0, 0]])
    with pytest.raises(ValueError, match="target_height=0"):
        tf.image.resize_with_crop_or_pad(img, 0, 2)


# -- geometry -----------------------------------------------------------------------------------------------------
def test_flips_rotations_transpose(device):
    x = tf.constant(IMG)
    _close(tf.image.flip_left_right(x).numpy(), IMG[:, :, ::-1])
    _close(tf.image.flip_up_down(x[0]).numpy(), IMG[0, ::-1])
    for k in (-1, 0, 1, 2, 3, 5):
        _close(tf.image.rot90(x, k).numpy(), np.rot90(IMG, k, axes=(1, 2)))
        _close(tf.image.rot90(x[1], k).numpy(), np.rot90(IMG[1], k, axes=(0, 1)))
    _close(tf.image.transpose(x).numpy(), IMG.transpose(0, 2, 1, 3))
    with pytest.raises(ValueError, match="must have either 3 or 4 dimensions"):
        tf.image.flip_left_right(IMG[0, 0])


def test_random_flips_are_per_image_and_seeded():
    batch = np.tile(np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1), (64, 2, 1, 1))
    out = tf.image.random_flip_left_right(batch, seed=5).numpy()
    flipped = np.array([np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert (flipped ^ kept).all() and 10 < flipped.sum() < 54
    np.testing.assert_array_equal(out, tf.image.random_flip_left_right(batch, seed=5).numpy())
    single = tf.image.random_flip_up_down(IMG[0], seed=1).numpy()
    assert np.array_equal(single, IMG[0]) or np.array_equal(single, IMG[0, ::-1])


def test_crops_and_pads():
    _close(tf.image.central_crop(IMG, 0.5).numpy(), IMG[:, 1:4, 1:5])  # int((5 - 2.5) / 2) = 1, int((6 - 3) / 2) = 1
    _close(tf.image.central_crop(IMG[0], 1.0).numpy(), IMG[0])
    _close(tf.image.crop_to_bounding_box(IMG, 1, 2, 3, 4).numpy(), IMG[:, 1:4, 2:6])
    padded = tf.image.pad_to_bounding_box(IMG[0], 1, 2, 8, 9).numpy()
    assert padded.shape == (8, 9, 3) and padded.sum() == pytest.approx(IMG[0].sum(), rel=1e-6)
    _close(padded[1:6, 2:8], IMG[0])
    with pytest.raises(ValueError, match="central_fraction=0"):
        tf.image.central_crop(IMG, 0)
    with pytest.raises(ValueError, match="width must be >= target \\+ offset. Received: width=6"):
        tf.image.crop_to_bounding_box(IMG, 0, 3, 2, 4)
    with pytest.raises(ValueError, match="offset_height=-1"):
        tf.image.pad_to_bounding_box(IMG, -1, 0, 8, 8)


def test_random_crop_is_a_block_of_the_input():
    x = np.arange(6 * 7, dtype=np.float32).reshape(6, 7)
    out = tf.image.random_crop(x, (3, 4), seed=2).numpy()
    top, left = int(out[0, 0]) // 7, int(out[0, 0]) % 7
    _close(out, x[top:top + 3, left:left + 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Need value.shape >= size"):
        tf.image.random_crop(x, (7, 2))


def test_extract_patches():
    x = np.arange(1 * 4 * 4 * 1, dtype=np.float32).reshape(1, 4, 4, 1)
    out = tf.image.extract_patches(x, [1, 2, 2, 1], [1, 2, 2, 1], [1, 1, 1, 1], "VALID").numpy()
    assert out.shape == (1, 2, 2, 4)
    _close(out[0, 1, 0], [8, 9, 12, 13])


# -- dtypes and colour ---------------------------------------------------------------------------------------------
def test_convert_image_dtype_rules():
    u8 = np.array([[[0, 1, 128, 255]]], np.uint8)
    _close(tf.image.convert_image_dtype(u8, tf.float32).numpy(), u8 / 255.0, atol=1e-7)
    f = np.array([0.0, 0.5, 0.999, 1.0, 1.5], np.float32)
    np.testing.assert_array_equal(tf.image.convert_image_dtype(f[:4], "uint8").numpy(), [0, 127, 255, 255])
    np.testing.assert_array_equal(tf.image.convert_image_dtype(f, "uint8", saturate=True).numpy()[-1], 255)
    np.testing.assert_array_equal(tf.image.convert_image_dtype(u8, "int32").numpy(), u8.astype(np.int64) * 2 ** 23)
    i32 = np.array([2 ** 31 - 1, 2 ** 23 - 1, 2 ** 23], np.int32)
    np.testing.assert_array_equal(tf.image.convert_image_dtype(i32, "uint8").numpy(), [255, 0, 1])
    np.testing.assert_array_equal(tf.image.convert_image_dtype(np.float32(1.5), "int32", saturate=True).numpy(),
                                  2147483520)  # float32's largest value below 2 ** 31
    assert tf.image.convert_image_dtype(f, "float64").dtype == tf.float64
    with pytest.raises(AttributeError, match="dtype=bool"):
        tf.image.convert_image_dtype(f, "bool")


def test_standardization_and_adjustments():
    x = IMG.astype(np.float64)
    mean, std = x.mean(axis=(1, 2, 3), keepdims=True), x.std(axis=(1, 2, 3), keepdims=True)
    _close(tf.image.per_image_standardization(IMG).numpy(), (x - mean) / std)
    _close(tf.image.per_image_standardization(np.ones((2, 2, 1), np.float32)).numpy(), np.zeros((2, 2, 1)))
    _close(tf.image.adjust_brightness(IMG, 0.25).numpy(), x + 0.25)
    m = x.mean(axis=(1, 2), keepdims=True)
    _close(tf.image.adjust_contrast(IMG, 1.5).numpy(), (x - m) * 1.5 + m)
    _close(tf.image.adjust_gamma(IMG, 2.0, 0.5).numpy(), 0.5 * x ** 2)
    u8 = np.array([[[250], [10]]], np.uint8)  # through float32, saturated back: 250/255 + 0.1 > 1
    np.testing.assert_array_equal(tf.image.adjust_brightness(u8, 0.1).numpy().ravel(), [255, 35])
    with pytest.raises(ValueError, match="gamma=-1"):
        tf.image.adjust_gamma(IMG, -1)


def _hsv_reference(img, change):
    out = np.empty(img.shape)
    for idx in np.ndindex(img.shape[:-1]):
        h, s, v = change(*colorsys.rgb_to_hsv(*img[idx]))
        out[idx] = colorsys.hsv_to_rgb(h, s, v)
    return out


def test_saturation_and_hue_against_colorsys():
    _close(tf.image.adjust_saturation(IMG, 1.7).numpy(), _hsv_reference(IMG, lambda h, s, v: (h, min(s * 1.7, 1), v)))
    _close(tf.image.adjust_hue(IMG, -0.3).numpy(), _hsv_reference(IMG, lambda h, s, v: ((h - 0.3) % 1, s, v)))
    hsv = tf.image.rgb_to_hsv(IMG).numpy()
    _close(hsv, np.array([colorsys.rgb_to_hsv(*p) for p in IMG.reshape(-1, 3)]).reshape(IMG.shape))
    _close(tf.image.hsv_to_rgb(np.array([[[1.0, 1.0, 1.0]]], np.float32)).numpy(), [[[1, 0, 0]]])  # hue 1 = red
    with pytest.raises(ValueError, match="delta=1.5"):
        tf.image.adjust_hue(IMG, 1.5)


def test_random_adjustments_stay_in_their_range():
    tf.random.set_seed(3)
    zeros = np.zeros((2, 2, 3), np.float32)
    delta = tf.image.random_brightness(zeros, 0.2).numpy()
    assert np.all(delta == delta.flat[0]) and -0.2 <= delta.flat[0] < 0.2
    _close(tf.image.random_contrast(IMG, 0.9, 1.1, seed=4).numpy(), tf.image.random_contrast(IMG, 0.9, 1.1,
                                                                                              seed=4).numpy())
    assert tf.image.random_saturation(IMG, 0.5, 1.5).shape == IMG.shape
    assert tf.image.random_hue(IMG, 0.1).shape == IMG.shape
    with pytest.raises(ValueError, match="upper must be > lower"):
        tf.image.random_contrast(IMG, 1.0, 0.5)
    tf.random.set_seed(4)  # the stateless forms: the seed pair alone fixes the draw
    a = [tf.image.stateless_random_hue(IMG, 0.2, seed=(1, 2)).numpy(),
         tf.image.stateless_random_crop(IMG, (1, 3, 3, 3), seed=[5, 6]).numpy(),
         tf.image.stateless_random_flip_left_right(IMG, seed=(0, 9)).numpy()]
    tf.random.set_seed(5)
    b = [tf.image.stateless_random_hue(IMG, 0.2, seed=(1, 2)).numpy(),
         tf.image.stateless_random_crop(IMG, (1, 3, 3, 3), seed=[5, 6]).numpy(),
         tf.image.stateless_random_flip_left_right(IMG, seed=(0, 9)).numpy()]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    bright = tf.image.stateless_random_brightness(zeros, 0.2, seed=(3, 4)).numpy()
    assert -0.2 <= bright.flat[0] < 0.2 and not np.array_equal(
        bright, tf.image.stateless_random_brightness(zeros, 0.2, seed=(3, 5)).numpy())
    with pytest.raises(ValueError, match="seed must be a shape \\[2\\]"):
        tf.image.stateless_random_contrast(IMG, 0.5, 1.0, seed=3)
    with pytest.raises(ValueError, match="max_delta must be <= 0.5"):
        tf.image.random_hue(IMG, 0.6)


def test_grayscale_and_yuv():
    gray = tf.image.rgb_to_grayscale(IMG).numpy()
    _close(gray, (IMG @ np.array([0.2989, 0.5870, 0.1140]))[..., None])
    u8 = np.array([[[255, 255, 255], [10, 200, 30]]], np.uint8)  # float32 luma, then * 255.5 truncated
    np.testing.assert_array_equal(tf.image.rgb_to_grayscale(u8).numpy().ravel(),
                                  [255, int((10 * 0.2989 + 200 * 0.587 + 30 * 0.114) / 255 * 255.5)])
    _close(tf.image.grayscale_to_rgb(gray).numpy(), np.repeat(gray, 3, axis=-1))
    _close(tf.image.yuv_to_rgb(tf.image.rgb_to_yuv(IMG)).numpy(), IMG, atol=1e-5)
    _close(tf.image.yiq_to_rgb(tf.image.rgb_to_yiq(IMG)).numpy(), IMG, atol=1e-4)  # TF's matrices, 8 digits
    _close(tf.image.rgb_to_yiq(IMG).numpy()[..., 0], gray[..., 0], atol=2e-4)
    _close(tf.image.rgb_to_yuv(IMG).numpy()[..., 0], gray[..., 0], atol=2e-4)  # Y is the luma (0.299, ...)
    with pytest.raises(ValueError, match="size 1"):
        tf.image.grayscale_to_rgb(IMG)


# -- measures -----------------------------------------------------------------------------------------------------
def test_gradients_variation_psnr_ssim():
    dy, dx = tf.image.image_gradients(IMG)
    _close(dy.numpy()[:, :-1], np.diff(IMG, axis=1))
    _close(dx.numpy()[:, :, -1], 0)
    tv = np.abs(np.diff(IMG, axis=1)).sum(axis=(1, 2, 3)) + np.abs(np.diff(IMG, axis=2)).sum(axis=(1, 2, 3))
    _close(tf.image.total_variation(IMG).numpy(), tv, atol=1e-4)
    _close(tf.image.total_variation(IMG[0]).numpy(), tv[0], atol=1e-4)
    noisy = np.clip(IMG + 0.05, 0, 1)
    mse = ((IMG.astype(np.float64) - noisy) ** 2).mean(axis=(1, 2, 3))
    _close(tf.image.psnr(IMG, noisy, 1.0).numpy(), 10 * np.log10(1 / mse), atol=1e-4)
    u8a, u8b = (IMG * 255).astype(np.uint8), (noisy * 255).astype(np.uint8)
    _close(tf.image.psnr(u8a, u8b, 255).numpy(), tf.image.psnr(u8a / 255, u8b / 255, 1.0).numpy(), atol=1e-4)
    _close(tf.image.ssim(IMG, IMG, 1.0, filter_size=3).numpy(), [1, 1])
    _close(tf.image.ssim(u8a, u8b, 255, filter_size=3).numpy(),
           tf.image.ssim(u8a.astype(np.float32) / 255, u8b.astype(np.float32) / 255, 1.0, filter_size=3).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="filter_size=11"):
        tf.image.ssim(IMG, IMG, 1.0)
    assert tuple(tf.image.sobel_edges(IMG).shape) == (2, 5, 6, 3, 2)


def test_finite_difference_gradients():
    x = RNG.uniform(0, 1, (1, 4, 5, 2))
    check_gradients(lambda t: tf.image.total_variation(t * t), x)
    check_gradients(lambda t: tf.image.rot90(tf.image.crop_to_bounding_box(t, 1, 1, 3, 3), 1) * t[:, :3, :3], x)


def test_unsupported_names_say_so():
    with pytest.raises(AttributeError, match="`tf.image.decode_jpeg` is not supported"):
        tf.image.decode_jpeg  # noqa: B018
