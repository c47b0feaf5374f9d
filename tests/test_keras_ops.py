"""``keras.ops`` (gpuflow/keras/ops/): values against NumPy references written here, Keras 3's result dtypes,
tape gradients against finite differences, the names Keras exports, errors, and a custom layer and loss written
with ``keras.ops`` trained with ``fit``."""
import math

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import keras
from gpuflow.keras import ops
from gpuflow.keras.ops import _names
from gradcheck import check_gradients, rand

RNG = np.random.default_rng(0)
F = RNG.standard_normal((3, 4)).astype("float32")
F3 = RNG.standard_normal((2, 3, 4)).astype("float32")
P = (RNG.uniform(0.1, 0.9, (3, 4))).astype("float32")
I = np.array([[1, -2, 3, 0], [4, 5, -6, 7], [0, 0, 2, 1]], dtype="int32")
V = RNG.standard_normal(5).astype("float32")
SQ = (RNG.standard_normal((3, 3)) + 3 * np.eye(3)).astype("float32")
IMG = RNG.uniform(size=(2, 4, 6, 3)).astype("float32")


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (id, keras.ops call, NumPy reference, expected dtype)
VALUE_CASES = [
    ("exp", lambda: ops.exp(F), lambda: np.exp(F), "float32"),
    ("sqrt_int", lambda: ops.sqrt(np.abs(I)), lambda: np.sqrt(np.abs(I)), "float32"),
    ("arcsinh", lambda: ops.arcsinh(F), lambda: np.arcsinh(F), "float32"),
    ("arctanh", lambda: ops.arctanh(P), lambda: np.arctanh(P), "float32"),
    ("cbrt", lambda: ops.cbrt(F), lambda: np.cbrt(F), "float32"),
    ("log2", lambda: ops.log2(P), lambda: np.log2(P), "float32"),
    ("sinc", lambda: ops.sinc(np.array([0.0, 0.5, -1.5], "float32")), lambda: np.sinc([0.0, 0.5, -1.5]), "float32"),
    ("square_bool", lambda: ops.square(F > 0), lambda: (F > 0).astype(int), "int32"),
    ("floor_int", lambda: ops.floor(I), lambda: I.astype(float), "float32"),
    ("add_int_float", lambda: ops.add(I, F), lambda: I + F, "float32"),
    ("add_int_pyfloat", lambda: ops.add(I, 2.5), lambda: I + 2.5, "float32"),
    ("multiply_int_pyint", lambda: ops.multiply(I, 3), lambda: I * 3, "int32"),
    ("divide_int", lambda: ops.divide(I, 4), lambda: I / 4, "float32"),
    ("floor_divide", lambda: ops.floor_divide(I, 3), lambda: I // 3, "int32"),
    ("mod", lambda: ops.mod(I, 3), lambda: np.mod(I, 3), "int32"),
    ("fmod", lambda: ops.fmod(F, 0.4), lambda: np.fmod(F, np.float32(0.4)), "float32"),
    ("arctan2", lambda: ops.arctan2(F, P), lambda: np.arctan2(F, P), "float32"),
    ("logaddexp", lambda: ops.logaddexp(F, P), lambda: np.logaddexp(F, P), "float32"),
    ("greater_mixed", lambda: ops.greater(I, F), lambda: I > F, "bool"),
    ("logical_xor", lambda: ops.logical_xor(I, F > 0), lambda: np.logical_xor(I, F > 0), "bool"),
    ("isfinite", lambda: ops.isfinite(np.array([1, np.inf, np.nan], "float32")), lambda: [True, False, False],
     "bool"),
    ("nan_to_num", lambda: ops.nan_to_num(np.array([np.nan, np.inf, -1], "float32"), posinf=9.0),
     lambda: [0, 9, -1], "float32"),
    ("clip_int", lambda: ops.clip(I, 0, 3), lambda: np.clip(I, 0, 3), "int32"),
    ("sum_tuple_axis", lambda: ops.sum(F3, axis=(0, 2)), lambda: F3.sum(axis=(0, 2)), "float32"),
    ("sum_bool", lambda: ops.sum(F > 0, axis=0), lambda: (F > 0).sum(axis=0), "int32"),
    ("mean_int", lambda: ops.mean(I, axis=1), lambda: I.mean(axis=1), "float32"),
    ("max_initial", lambda: ops.max(F, axis=0, initial=0.5), lambda: np.max(F, axis=0, initial=0.5), "float32"),
    ("std", lambda: ops.std(F, axis=1, keepdims=True), lambda: F.std(axis=1, keepdims=True), "float32"),
    ("var", lambda: ops.var(F3), lambda: F3.var(), "float32"),
    ("prod_int8", lambda: ops.prod(I.astype("int8"), axis=0), lambda: I.prod(axis=0), "int32"),
    ("argmax_none", lambda: ops.argmax(F), lambda: np.argmax(F), "int32"),
    ("argmin_keepdims", lambda: ops.argmin(F, axis=1, keepdims=True), lambda: np.argmin(F, 1)[:, None], "int32"),
    ("count_nonzero", lambda: ops.count_nonzero(I, axis=1), lambda: np.count_nonzero(I, axis=1), "int32"),
    ("median", lambda: ops.median(F, axis=1), lambda: np.median(F, axis=1), "float32"),
    ("quantile", lambda: ops.quantile(F, [0.2, 0.7], axis=0), lambda: np.quantile(F, [0.2, 0.7], axis=0),
     "float32"),
    ("nanquantile", lambda: ops.nanquantile(np.where(F > 1.0, np.nan, F), [0.25, 0.8], axis=1, keepdims=True),
     lambda: np.nanquantile(np.where(F > 1.0, np.nan, F), [0.25, 0.8], axis=1, keepdims=True), "float32"),
    ("nanmedian_all_nan_row", lambda: ops.nanmedian(np.array([[1, np.nan, 3], [np.nan] * 3], "float32"), axis=1),
     lambda: [2.0, np.nan], "float32"),
    ("quantile_midpoint", lambda: ops.quantile(F3, [0.1, 0.5], axis=(0, 2), method="midpoint"),
     lambda: np.quantile(F3, [0.1, 0.5], axis=(0, 2), method="midpoint"), "float32"),
    ("nanmean", lambda: ops.nanmean(np.array([1, np.nan, 3], "float32")), lambda: 2.0, "float32"),
    ("average", lambda: ops.average(F, axis=1, weights=np.array([1, 2, 3, 4], "float32")),
     lambda: np.average(F, axis=1, weights=[1, 2, 3, 4]), "float32"),
    ("cumsum_none", lambda: ops.cumsum(I), lambda: np.cumsum(I), "int32"),
    ("cumprod", lambda: ops.cumprod(P, axis=0), lambda: np.cumprod(P, axis=0), "float32"),
    ("diff", lambda: ops.diff(F, n=2), lambda: np.diff(F, n=2), "float32"),
    ("arange", lambda: ops.arange(1, 10, 3), lambda: np.arange(1, 10, 3), "int32"),
    ("arange_float", lambda: ops.arange(0, 2, 0.5), lambda: np.arange(0, 2, 0.5), "float32"),
    ("linspace", lambda: ops.linspace(0, 10, 4, endpoint=False), lambda: np.linspace(0, 10, 4, endpoint=False),
     "float32"),
    ("full", lambda: ops.full((2, 2), 3), lambda: np.full((2, 2), 3.0), "float32"),
    ("ones_like", lambda: ops.ones_like(I), lambda: np.ones_like(I), "int32"),
    ("eye", lambda: ops.eye(3, 4, k=1), lambda: np.eye(3, 4, k=1), "float32"),
    ("tri", lambda: ops.tri(3, 4, -1), lambda: np.tri(3, 4, -1), "float32"),
    ("reshape", lambda: ops.reshape(F, (2, -1)), lambda: F.reshape(2, -1), "float32"),
    ("transpose", lambda: ops.transpose(F3, (1, 0, 2)), lambda: F3.transpose(1, 0, 2), "float32"),
    ("moveaxis", lambda: ops.moveaxis(F3, [0, 1], [-1, 0]), lambda: np.moveaxis(F3, [0, 1], [-1, 0]), "float32"),
    ("swapaxes", lambda: ops.swapaxes(F3, 0, 2), lambda: np.swapaxes(F3, 0, 2), "float32"),
    ("expand_dims_tuple", lambda: ops.expand_dims(F, (0, 3)), lambda: np.expand_dims(F, (0, 3)), "float32"),
    ("squeeze", lambda: ops.squeeze(F[None, :, None]), lambda: F, "float32"),
    ("concatenate_promoted", lambda: ops.concatenate([F, I], axis=1), lambda: np.concatenate([F, I], 1), "float32"),
    ("stack", lambda: ops.stack([F, P], axis=1), lambda: np.stack([F, P], 1), "float32"),
    ("split_indices", lambda: ops.split(F, [1, 3], axis=1)[1], lambda: np.split(F, [1, 3], axis=1)[1], "float32"),
    ("array_split", lambda: ops.array_split(V, 3)[0], lambda: np.array_split(V, 3)[0], "float32"),
    ("tile", lambda: ops.tile(V, (2, 2)), lambda: np.tile(V, (2, 2)), "float32"),
    ("repeat", lambda: ops.repeat(F, 2, axis=1), lambda: np.repeat(F, 2, axis=1), "float32"),
    ("flip", lambda: ops.flip(F3, axis=1), lambda: np.flip(F3, 1), "float32"),
    ("roll_none", lambda: ops.roll(F, -2), lambda: np.roll(F, -2), "float32"),
    ("rot90", lambda: ops.rot90(F3, k=3, axes=(1, 2)), lambda: np.rot90(F3, 3, (1, 2)), "float32"),
    ("pad_reflect", lambda: ops.pad(F, ((1, 2), (2, 1)), mode="reflect"),
     lambda: np.pad(F, ((1, 2), (2, 1)), mode="reflect"), "float32"),
    ("pad_symmetric", lambda: ops.pad(F, 1, mode="symmetric"), lambda: np.pad(F, 1, mode="symmetric"), "float32"),
    ("take_negative", lambda: ops.take(F, np.array([2, 0, -1]), axis=1), lambda: np.take(F, [2, 0, -1], 1),
     "float32"),
    ("take_along_axis", lambda: ops.take_along_axis(F, np.array([[0, 3], [1, 1], [2, 0]]), axis=1),
     lambda: np.take_along_axis(F, np.array([[0, 3], [1, 1], [2, 0]]), 1), "float32"),
    ("where", lambda: ops.where(F > 0, I, F), lambda: np.where(F > 0, I, F), "float32"),
    ("nonzero", lambda: ops.nonzero(I)[1], lambda: np.nonzero(I)[1], "int32"),
    ("sort", lambda: ops.sort(F, axis=0), lambda: np.sort(F, 0), "float32"),
    ("argsort", lambda: ops.argsort(F), lambda: np.argsort(F, kind="stable"), "int32"),
    ("searchsorted", lambda: ops.searchsorted(np.array([-1.0, 0.0, 1.0], "float32"), V),
     lambda: np.searchsorted([-1.0, 0.0, 1.0], V), "int32"),
    ("bincount_weights", lambda: ops.bincount(np.array([0, 1, 1, 3]), weights=np.array([.5, 1., 2., 3.], "float32"),
                                             minlength=6), lambda: np.bincount([0, 1, 1, 3], [.5, 1, 2, 3], 6),
     "float32"),
    ("unique_counts", lambda: ops.unique(np.array([3, 1, 3, 2]), return_counts=True)[1], lambda: [1, 1, 2], "int32"),
    ("matmul_vector", lambda: ops.matmul(V[:4], P.T), lambda: V[:4] @ P.T, "float32"),
    ("matmul_int", lambda: ops.matmul(I, I.T), lambda: I @ I.T, "int32"),
    ("dot", lambda: ops.dot(F3, P.T), lambda: np.dot(F3, P.T), "float32"),
    ("tensordot", lambda: ops.tensordot(F3, P, axes=[[1, 2], [0, 1]]), lambda: np.tensordot(F3, P, [[1, 2], [0, 1]]),
     "float32"),
    ("einsum", lambda: ops.einsum("bij,kj->bik", F3, P), lambda: np.einsum("bij,kj->bik", F3, P), "float32"),
    ("outer", lambda: ops.outer(V, V[:3]), lambda: np.outer(V, V[:3]), "float32"),
    ("kron", lambda: ops.kron(F[:2, :2], P[:2, :3]), lambda: np.kron(F[:2, :2], P[:2, :3]), "float32"),
    ("cross", lambda: ops.cross(F3[..., :3], F3[..., 1:]), lambda: np.cross(F3[..., :3], F3[..., 1:]), "float32"),
    ("tril", lambda: ops.tril(F3, -1), lambda: np.tril(F3, -1), "float32"),
    ("triu", lambda: ops.triu(F, 1), lambda: np.triu(F, 1), "float32"),
    ("diag_vector", lambda: ops.diag(V[:3], 1), lambda: np.diag(V[:3], 1), "float32"),
    ("diagonal", lambda: ops.diagonal(F3, 1, 1, 2), lambda: np.diagonal(F3, 1, 1, 2), "float32"),
    ("trace_int", lambda: ops.trace(I), lambda: np.trace(I), "int32"),
    ("corrcoef", lambda: ops.corrcoef(F), lambda: np.corrcoef(F), "float32"),
    ("slice", lambda: ops.slice(F, (1, 1), (2, 2)), lambda: F[1:3, 1:3], "float32"),
    ("slice_update", lambda: ops.slice_update(F, (1, 2), np.ones((2, 2), "float32")),
     lambda: np.concatenate([F[:, :2], np.concatenate([F[:1, 2:], np.ones((2, 2))])], 1), "float32"),
    ("scatter_repeated", lambda: ops.scatter(np.array([[0, 1], [2, 3], [0, 1]]), np.array([1., 2., 3.], "float32"),
                                             (3, 4)), lambda: np.where(np.arange(12).reshape(3, 4) == 1, 4.0,
                                                                       np.where(np.arange(12).reshape(3, 4) == 11,
                                                                                2.0, 0.0)), "float32"),
    ("scatter_update_max", lambda: ops.scatter_update(F, np.array([[0, 1]]), np.array([9.], "float32"),
                                                      reduction="max"),
     lambda: np.where(np.arange(12).reshape(3, 4) == 1, 9.0, F), "float32"),
    ("segment_sum", lambda: ops.segment_sum(F, np.array([0, 2, 0]), num_segments=3),
     lambda: np.stack([F[0] + F[2], np.zeros(4), F[1]]), "float32"),
    ("segment_max", lambda: ops.segment_max(F, np.array([0, 0, 1])), lambda: np.stack([F[:2].max(0), F[2]]),
     "float32"),
    ("top_k_values", lambda: ops.top_k(F, 2)[0], lambda: -np.sort(-F, axis=1)[:, :2], "float32"),
    ("logsumexp", lambda: ops.logsumexp(F, axis=1), lambda: np.log(np.exp(F).sum(1)), "float32"),
    ("erfc", lambda: ops.erfc(F), lambda: [[math.erfc(v) for v in r] for r in F], "float32"),
    ("cdist", lambda: ops.cdist(F, P), lambda: np.sqrt(((F[:, None] - P[None]) ** 2).sum(-1)), "float32"),
    ("extract_sequences", lambda: ops.extract_sequences(V, 2, 2), lambda: np.stack([V[0:2], V[2:4]]), "float32"),
    ("erfinv_roundtrip", lambda: ops.erf(ops.erfinv(np.linspace(-0.99, 0.99, 7))), lambda: np.linspace(-0.99, 0.99, 7),
     "float64"),
    ("correlate_same", lambda: ops.correlate(V, V[:4], mode="same"), lambda: np.correlate(V, V[:4], "same"),
     "float32"),
    ("correlate_full_int64", lambda: ops.correlate(np.arange(5), np.array([1, 2]), mode="full"),
     lambda: np.correlate(np.arange(5), [1, 2], "full"), "float64"),
    ("adaptive_average_pool", lambda: ops.adaptive_average_pool(IMG, (3, 4)),
     lambda: np.stack([np.stack([IMG[:, (i * 4) // 3:-(-(i + 1) * 4 // 3), (j * 6) // 4:-(-(j + 1) * 6 // 4)]
                                 .mean(axis=(1, 2)) for j in range(4)], 1) for i in range(3)], 1), "float32"),
    ("adaptive_max_pool_1d", lambda: ops.adaptive_max_pool(F3, 2), lambda: np.stack([F3[:, :2].max(1),
                                                                                      F3[:, 1:].max(1)], 1),
     "float32"),
    ("rearrange", lambda: ops.rearrange(F3, "b (h w) c -> (w b) (c h)", w=3),
     lambda: F3.reshape(2, 1, 3, 4).transpose(2, 0, 3, 1).reshape(6, 4), "float32"),
    ("vectorize_signature", lambda: ops.vectorize(lambda m, v: ops.matmul(m, v), signature="(m,n),(n)->(m)")(F3, V[:4]),
     lambda: F3 @ V[:4], "float32"),
    ("vectorize_elementwise", lambda: ops.vectorize(lambda a, b: a * 2 + b)(F, V[:4]), lambda: F * 2 + V[:4],
     "float32"),
    ("unfold", lambda: ops.unfold(IMG.transpose(0, 3, 1, 2), 2, stride=2),
     lambda: IMG.reshape(2, 2, 2, 3, 2, 3).transpose(0, 5, 2, 4, 1, 3).reshape(2, 12, 6), "float32"),
    ("jvp", lambda: ops.jvp(lambda a, b: ops.matmul(a, b), (F, P.T), (P, F.T))[1], lambda: P @ P.T + F @ F.T,
     "float32"),
    ("fft_imag", lambda: ops.fft((F, P))[1], lambda: np.fft.fft(F + 1j * P).imag, "float32"),
    ("ifft2_real", lambda: ops.ifft2((F3, 0.5 * F3))[0], lambda: np.fft.ifft2(F3 + 0.5j * F3).real, "float32"),
    ("rfft_padded_real", lambda: ops.rfft(F, 7)[0], lambda: np.fft.rfft(F, 7).real, "float32"),
    ("irfft_odd_length", lambda: ops.irfft((F, P), 5), lambda: np.fft.irfft(F + 1j * P, 5), "float32"),
    ("stft_imag", lambda: ops.stft(np.sin(np.arange(40) * 0.3).astype("float32"), 8, 4, 8, center=False)[1],
     lambda: np.fft.rfft(np.lib.stride_tricks.sliding_window_view(np.sin(np.arange(40) * 0.3), 8)[::4]
                         * np.hanning(9)[:8], 8).imag, "float32"),
    ("istft_of_stft_interior", lambda: ops.istft(ops.stft(np.sin(np.arange(48) * 0.2), 16, 4, 16), 16, 4, 16)[4:44],
     lambda: np.sin(np.arange(4, 44) * 0.2), "float64"),  # tf.signal's window sums are short at the two ends
    ("relu_int", lambda: ops.relu(I), lambda: np.maximum(I, 0), "int32"),
    ("gelu_tanh", lambda: ops.gelu(F), lambda: 0.5 * F * (1 + np.tanh(np.sqrt(2 / np.pi) * (F + 0.044715 * F ** 3))),
     "float32"),
    ("hard_sigmoid", lambda: ops.hard_sigmoid(F * 4), lambda: np.clip(F * 4 + 3, 0, 6) / 6, "float32"),
    ("softmax_tuple", lambda: ops.softmax(F3, axis=(1, 2)),
     lambda: _softmax(F3.reshape(2, -1)).reshape(F3.shape), "float32"),
    ("log_softmax", lambda: ops.log_softmax(F), lambda: np.log(_softmax(F)), "float32"),
    ("sparsemax_sums_to_1", lambda: ops.sum(ops.sparsemax(F * 3), axis=-1), lambda: np.ones(3), "float32"),
    ("glu", lambda: ops.glu(F), lambda: F[:, :2] / (1 + np.exp(-F[:, 2:])), "float32"),
    ("one_hot", lambda: ops.one_hot(np.array([0, 2, -1]), 3), lambda: [[1, 0, 0], [0, 0, 1], [0, 0, 0]], "float32"),
    ("multi_hot", lambda: ops.multi_hot(np.array([[0, 2], [1, 1]]), 3), lambda: [[1, 0, 1], [0, 1, 0]], "float32"),
    ("binary_crossentropy", lambda: ops.binary_crossentropy((F > 0).astype("float32"), P),
     lambda: -((F > 0) * np.log(P) + (F <= 0) * np.log(1 - P)), "float32"),
    ("categorical_crossentropy_logits", lambda: ops.categorical_crossentropy(np.eye(4, dtype="float32")[[0, 2, 3]],
                                                                             F, from_logits=True),
     lambda: -np.log(_softmax(F)[[0, 1, 2], [0, 2, 3]]), "float32"),
    ("sparse_categorical_crossentropy", lambda: ops.sparse_categorical_crossentropy(np.array([[0], [2], [3]]), P),
     lambda: -np.log((P / P.sum(1, keepdims=True))[[0, 1, 2], [0, 2, 3]]), "float32"),
    ("moments_var", lambda: ops.moments(F3, axes=(0, 1))[1], lambda: F3.var(axis=(0, 1)), "float32"),
    ("layer_normalization", lambda: ops.layer_normalization(F, gamma=P[0], beta=V[:4]),
     lambda: (F - F.mean(1, keepdims=True)) / np.sqrt(F.var(1, keepdims=True) + 1e-7) * P[0] + V[:4], "float32"),
    ("rms_normalization", lambda: ops.rms_normalization(F),
     lambda: F / np.sqrt((F ** 2).mean(1, keepdims=True) + 1e-7), "float32"),
    ("normalize", lambda: ops.normalize(F), lambda: F / np.linalg.norm(F, axis=1, keepdims=True), "float32"),
    ("dot_product_attention_causal", lambda: ops.dot_product_attention(F3[None], F3[None], F3[None], is_causal=True),
     lambda: np.einsum("nts,snh->tnh", _softmax(np.where(np.tri(2, 2, dtype=bool)[None],
                                                          np.einsum("tnh,snh->nts", F3, F3) / 2, -np.inf)), F3)[None],
     "float32"),
    ("conv2d_same", lambda: ops.conv(IMG, np.full((1, 1, 3, 2), 0.5, "float32"), padding="same"),
     lambda: np.repeat(IMG.sum(-1, keepdims=True) * 0.5, 2, -1), "float32"),
    ("max_pool", lambda: ops.max_pool(IMG, 2), lambda: IMG.reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4)), "float32"),
    ("depth_to_space", lambda: ops.depth_to_space(np.arange(8, dtype="float32").reshape(1, 1, 1, 8), 2),
     lambda: np.arange(8).reshape(1, 2, 2, 2), "float32"),
    ("norm_matrix_inf", lambda: ops.norm(F, ord=np.inf), lambda: np.linalg.norm(F, np.inf), "float32"),
    ("norm_vector_3", lambda: ops.norm(V, ord=3), lambda: np.linalg.norm(V, 3), "float32"),
    ("inv", lambda: ops.inv(SQ), lambda: np.linalg.inv(SQ), "float32"),
    ("solve_vector", lambda: ops.solve(SQ, V[:3]), lambda: np.linalg.solve(SQ, V[:3]), "float32"),
    ("cholesky", lambda: ops.cholesky(SQ @ SQ.T), lambda: np.linalg.cholesky(SQ @ SQ.T), "float32"),
    ("svd_values", lambda: ops.svd(F, compute_uv=False), lambda: np.linalg.svd(F, compute_uv=False), "float32"),
    ("resize_nearest", lambda: ops.image.resize(IMG, (2, 3), interpolation="nearest"),
     lambda: IMG[:, 1::2][:, :, 1::2], "float32"),
    ("rgb_to_grayscale", lambda: ops.image.rgb_to_grayscale(IMG), lambda: IMG @ [[0.2989], [0.5870], [0.1140]],
     "float32"),
    ("crop_images", lambda: ops.image.crop_images(IMG, 1, 2, target_height=2, target_width=3),
     lambda: IMG[:, 1:3, 2:5], "float32"),
    ("extract_patches", lambda: ops.image.extract_patches(IMG, 2),
     lambda: IMG.reshape(2, 2, 2, 3, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 2, 3, 12), "float32"),
    ("fori_loop", lambda: ops.fori_loop(0, 4, lambda i, v: v * 2 + i, ops.convert_to_tensor(1.0)), lambda: 27.0,
     "float32"),
    ("scan", lambda: ops.scan(lambda c, x: (c + x, c * x), np.float32(0), V)[1],
     lambda: np.concatenate([[0], np.cumsum(V)[:-1]]) * V, "float32"),
    ("associative_scan", lambda: ops.associative_scan(lambda a, b: a + b, V, reverse=True),
     lambda: np.cumsum(V[::-1])[::-1], "float32"),
    ("map", lambda: ops.map(lambda x: ops.sum(x), F), lambda: F.sum(1), "float32"),
    ("switch_clipped", lambda: ops.switch(7, [lambda x: x + 1, lambda x: x - 1], F), lambda: F - 1, "float32"),
    ("saturate_cast", lambda: ops.saturate_cast(np.array([-5.0, 300.0, 7.6], "float32"), "uint8"),
     lambda: [0, 255, 7], "uint8"),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_and_dtypes(case, device):
    _, fn, ref, dtype = case
    out = fn()
    assert isinstance(out, tf.Tensor)
    assert out.dtype.name == dtype
    expected = np.asarray(ref(), dtype=np.float64)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float64), expected, rtol=2e-5, atol=2e-5)


def test_promotion_follows_keras():
    """Keras 3's lattice (keras/src/backend/common/dtypes.py), TensorFlow backend."""
    from gpuflow.keras.ops._common import result_type
    cases = [((1, 2), "int32"), ((1, 2.0), "float32"), (("int32", float), "float32"), (("float16", 2.0), "float16"),
             (("int8", "uint8"), "int16"), (("int32", "float32"), "float32"), (("int64", "float16"), "float16"),
             ((True, 1), "int32"), (("bool", "bool"), "bool"), (("uint8", 1), "uint8"), (("int64", 1), "int64"),
             (("float64", "float32"), "float64"), ((), "float32")]
    for args, expected in cases:
        assert result_type(*args) == expected, args


def test_shape_dtype_ndim_and_conversion():
    x = ops.convert_to_tensor([[1, 2, 3]])
    assert ops.shape(x) == (1, 3) and isinstance(ops.shape(x), tuple)
    assert ops.dtype(x) == "int32" and ops.ndim(x) == 2
    assert ops.convert_to_tensor(x, dtype="float32").dtype.name == "float32"  # a tensor is cast, as Keras
    assert isinstance(ops.convert_to_numpy(x), np.ndarray)
    assert ops.is_tensor(x) and not ops.is_tensor(np.ones(2))
    assert ops.cast(np.array([1.7, -1.7]), "int32").numpy().tolist() == [1, -1]
    assert ops.where(np.array([[True, False], [False, True]]))[1].numpy().tolist() == [0, 1]
    a, b = ops.while_loop(lambda a, b: a < 5, lambda a, b: (a + 1, b * 2), (0, 1.0))
    assert (int(a), float(b), a.dtype.name) == (5, 32.0, "int32")
    assert ops.cond(ops.convert_to_tensor(False), lambda: 1, lambda: 2) == 2


# -- gradients: finite differences in float64 ----------------------------------------------------------------------
GRADIENT_CASES = [
    ("std", lambda x: ops.std(x, axis=1), (rand(3, 4),)),
    ("max", lambda x: ops.max(x, axis=0), (rand(3, 4),)),
    ("prod", lambda x: ops.prod(x, axis=1), (rand(2, 3, low=0.5, high=1.5),)),
    ("arcsinh_arccosh_cbrt", lambda x: ops.arcsinh(x) + ops.arccosh(x + 2) + ops.cbrt(x + 3), (rand(5),)),
    ("arctan2_hypot", lambda x, y: ops.arctan2(x, y) + ops.hypot(x, y), (rand(4), rand(4, low=0.5, high=1))),
    ("logaddexp", lambda x, y: ops.logaddexp(x, y), (rand(4), rand(4, seed=1))),
    ("take_along_axis", lambda x: ops.take_along_axis(x, np.array([[0, 3, 3], [1, 1, 0]]), axis=1), (rand(2, 4),)),
    ("take", lambda x: ops.take(x, np.array([-1, 0, 0]), axis=0), (rand(3, 2),)),
    ("sort", lambda x: ops.sort(x, axis=0) * np.arange(1.0, 4.0)[:, None], (rand(3, 2),)),
    ("cumsum", lambda x: ops.cumsum(x, axis=1), (rand(2, 3),)),
    ("pad_reflect", lambda x: ops.pad(x, ((1, 1), (2, 0)), mode="reflect"), (rand(3, 3),)),
    ("roll_flip_rot90", lambda x: ops.rot90(ops.flip(ops.roll(x, 1, axis=1), 0)), (rand(2, 3),)),
    ("tril_diagonal", lambda x: ops.tril(x) + ops.diag(ops.diagonal(x)), (rand(3, 3),)),
    ("quantile", lambda x: ops.quantile(x, [0.3, 0.5], axis=1), (rand(2, 5),)),
    ("nanquantile", lambda x: ops.nanquantile(ops.where(x > 0.5, np.nan, x), 0.4, axis=0), (rand(5, 2),)),
    ("where_clip", lambda x, y: ops.where(x > 0, ops.clip(x, -0.5, 0.5), y), (rand(5), rand(5))),
    ("einsum_tensordot", lambda x, y: ops.einsum("ij,jk->ik", x, y) + ops.tensordot(x, y, 1), (rand(2, 3), rand(3, 2))),
    ("matmul_vector", lambda x, y: ops.matmul(x, y), (rand(3), rand(2, 3, 2))),
    ("softmax_tuple", lambda x: ops.softmax(x, axis=(0, 1)), (rand(2, 3),)),
    ("logsumexp", lambda x: ops.logsumexp(x, axis=0), (rand(3, 2),)),
    ("categorical_crossentropy", lambda x: ops.categorical_crossentropy(np.eye(3)[[0, 2]], x),
     (rand(2, 3, low=0.1, high=1),)),
    ("binary_crossentropy_logits", lambda x: ops.binary_crossentropy(np.array([0.0, 1.0, 1.0]), x, from_logits=True),
     (rand(3),)),
    ("sparse_categorical_crossentropy", lambda x: ops.sparse_categorical_crossentropy(np.array([1, 0]), x,
                                                                                      from_logits=True), (rand(2, 3),)),
    ("segment_sum_max", lambda x: ops.segment_sum(x, np.array([1, 0, 1]), 2) + ops.segment_max(x, np.array([1, 0, 1]),
                                                                                               2), (rand(3, 2),)),
    ("scatter", lambda x: ops.scatter(np.array([[0, 1], [0, 1], [1, 0]]), x, (2, 2)), (rand(3),)),
    ("scatter_update", lambda x, u: ops.scatter_update(x, np.array([[0, 1], [1, 0]]), u), (rand(2, 2), rand(2))),
    ("slice_update", lambda x, u: ops.slice_update(x, (1, 0), u), (rand(3, 3), rand(2, 2))),
    ("norm", lambda x: ops.norm(x, ord=3, axis=0) + ops.norm(x, ord=1), (rand(3, 2),)),
    ("solve_det", lambda a, b: ops.solve(a, b) * ops.det(a), (rand(2, 2) + 2 * np.eye(2), rand(2, 3))),
    ("layer_normalization", lambda x, g: ops.layer_normalization(x, gamma=g), (rand(2, 4), rand(4))),
    ("dot_product_attention", lambda q, k, v: ops.dot_product_attention(q, k, v), (rand(1, 2, 1, 3), rand(1, 3, 1, 3),
                                                                                  rand(1, 3, 1, 3))),
    ("scan", lambda x: ops.scan(lambda c, v: (c * v, c + v), ops.ones((2,), "float64"), x)[1], (rand(3, 2),)),
    ("fori_loop", lambda x: ops.fori_loop(0, 3, lambda i, v: v * x + i, x), (rand(3),)),
    ("resize_bilinear", lambda x: ops.image.resize(x, (3, 5)), (rand(1, 2, 3, 1),)),
    ("erfinv", lambda x: ops.erfinv(x), (rand(4, low=-0.9, high=0.9),)),
    ("correlate", lambda x, y: ops.correlate(x, y, mode="full"), (rand(4), rand(3))),
    ("adaptive_pools", lambda x: ops.adaptive_average_pool(x, (2, 3)) + ops.adaptive_max_pool(x, (2, 3)),
     (rand(1, 3, 4, 2),)),
    ("rearrange", lambda x: ops.rearrange(x, "b (h w) -> w (b h)", h=2), (rand(3, 4),)),
    ("extract_patches", lambda x: ops.image.extract_patches(x, (2, 2), strides=1), (rand(1, 3, 3, 2),)),
    ("unfold_fold", lambda x: ops.fold(ops.unfold(x, 2, padding=1), (3, 3), 2, padding=1) + ops.sum(ops.unfold(x, 2)),
     (rand(1, 2, 3, 3),)),
    ("fft2", lambda r, i: ops.fft2((r, i)), (rand(2, 3, 4), rand(2, 3, 4, seed=1))),
    ("rfft_irfft", lambda x: ops.irfft(ops.rfft(x * x, 6), 7), (rand(2, 5),)),
    ("stft_istft", lambda x: ops.istft(ops.stft(x, 6, 3, 8), 6, 3, 8, length=12), (rand(12),)),
    ("rgb_to_hsv", lambda x: ops.image.rgb_to_hsv(x), (np.array([[[[0.9, 0.2, 0.4], [0.1, 0.7, 0.3]]]]),)),
    ("gaussian_blur_sobel", lambda x: ops.image.gaussian_blur(x, (3, 3), (0.7, 1.2)) + ops.sum(
        ops.image.sobel_edges(x), axis=-1), (rand(1, 3, 4, 2),)),
    ("conv_transpose", lambda x, w: ops.conv_transpose(x, w, strides=2, padding="same"), (rand(1, 2, 3, 2),
                                                                                           rand(3, 3, 2, 2))),
]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradients(case):
    _, fn, inputs = case
    check_gradients(fn, *inputs)


@pytest.mark.parametrize("strides,padding", [(2, "valid"), (1, "same")])
def test_conv_transpose_is_the_adjoint_of_conv(strides, padding, device):
    """<conv(z, w), x> == <z, conv_transpose(x, w)> for every z of conv_transpose's output shape."""
    x = RNG.standard_normal((2, 3, 4, 2)).astype("float32")
    w = RNG.standard_normal((3, 3, 5, 2)).astype("float32")  # (kh, kw, out_channels, in_channels)
    y = ops.conv_transpose(x, w, strides=strides, padding=padding)
    expected = (2, (3 - 1) * strides + 3, (4 - 1) * strides + 3, 5) if padding == "valid" else (2, 3, 4, 5)
    assert tuple(y.shape) == expected
    z = RNG.standard_normal(expected).astype("float32")
    lhs = float(np.sum(ops.conv(z, w, strides=strides, padding=padding).numpy() * x))
    assert math.isclose(lhs, float(np.sum(z * y.numpy())), rel_tol=1e-4)


def test_fold_is_the_adjoint_of_unfold():
    """<unfold(x), y> == <x, fold(y)>, with padding, dilation and overlapping strides."""
    x = RNG.standard_normal((2, 3, 5, 6)).astype("float64")
    kwargs = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    cols = ops.unfold(x, **kwargs)
    y = RNG.standard_normal(tuple(cols.shape))
    assert math.isclose(float(np.sum(cols.numpy() * y)),
                        float(np.sum(x * ops.fold(y, (5, 6), **kwargs).numpy())), rel_tol=1e-10)


def test_jvp_structures_and_aux():
    p, t = ops.jvp(ops.sin, (ops.convert_to_tensor(0.1),), (ops.convert_to_tensor(0.2),))
    np.testing.assert_allclose([float(p), float(t)], [math.sin(0.1), 0.2 * math.cos(0.1)], rtol=1e-6)
    out, tan, aux = ops.jvp(lambda x: ({"a": ops.exp(x), "b": ops.sum(x)}, "aux"), (V,), (np.ones(5, "float32"),),
                            has_aux=True)
    assert aux == "aux" and set(tan) == {"a", "b"}
    np.testing.assert_allclose(tan["a"].numpy(), np.exp(V), rtol=1e-6)
    np.testing.assert_allclose(float(tan["b"]), 5.0)


def _ctc_brute_force(logits, label, steps, blank):
    """-log of the summed probability of every path of ``steps`` classes that collapses to ``label``."""
    import itertools
    logp = logits[:steps] - np.log(np.exp(logits[:steps]).sum(-1, keepdims=True))
    total = 0.0
    for path in itertools.product(range(logits.shape[1]), repeat=steps):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in merged if c != blank] == list(label):
            total += np.exp(sum(logp[t, c] for t, c in enumerate(path)))
    return -np.log(total)


def test_ctc_loss_against_all_alignments():
    logits = RNG.standard_normal((2, 5, 3))
    loss = ops.ctc_loss(np.array([[1, 2, 0], [2, 2, 1]]), logits, np.array([2, 2]), np.array([4, 5]), mask_index=0)
    np.testing.assert_allclose(loss.numpy(), [_ctc_brute_force(logits[0], [1, 2], 4, 0),
                                              _ctc_brute_force(logits[1], [2, 2], 5, 0)], rtol=1e-6)
    loss = ops.ctc_loss(np.array([[0, 1]]), logits[:1], np.array([2]), np.array([5]), mask_index=2)
    np.testing.assert_allclose(loss.numpy(), [_ctc_brute_force(logits[0], [0, 1], 5, 2)], rtol=1e-6)
    check_gradients(lambda x: ops.ctc_loss(np.array([[1, 2]]), x, np.array([2]), np.array([3])), rand(1, 4, 3))


def test_ctc_decode_greedy():
    best = np.array([[1, 1, 0, 2, 2, 1], [0, 2, 2, 2, 1, 1]])
    logits = np.eye(3, dtype="float32")[best] * 2.0
    decoded, scores = ops.ctc_decode(logits, np.array([6, 4]))
    assert decoded.numpy().tolist() == [[[1, 2, 1, -1, -1, -1], [2, -1, -1, -1, -1, -1]]]
    np.testing.assert_allclose(scores.numpy(), [[-12.0], [-8.0]])
    decoded, _ = ops.ctc_decode(logits, np.array([6, 6]), merge_repeated=False, mask_index=1)
    assert decoded.numpy().tolist() == [[[0, 2, 2, -1, -1, -1], [0, 2, 2, 2, -1, -1]]]
    with pytest.raises(NotImplementedError, match="beam_search"):
        ops.ctc_decode(logits, np.array([6, 6]), strategy="beam_search")


def _correlate2d(img, kernel, pad_mode):
    """(H, W, C) images correlated with a (kh, kw) kernel, output the input's size (NumPy loops)."""
    kh, kw = kernel.shape
    padded = np.pad(img, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2), (0, 0)), mode=pad_mode)
    out = np.zeros_like(img, dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            out += kernel[i, j] * padded[i:i + img.shape[0], j:j + img.shape[1]]
    return out


def test_image_colour_blur_and_edges(device):
    import colorsys
    x = IMG.copy()
    x[0, 0, :3] = [[0.5, 0.5, 0.5], [0, 0, 0], [0.2, 0.9, 0.9]]  # a grey, black, and a tie between two channels
    hsv = ops.image.rgb_to_hsv(x).numpy()
    expected = np.apply_along_axis(lambda p: colorsys.rgb_to_hsv(*p), -1, x.astype(np.float64))
    np.testing.assert_allclose(hsv, expected, atol=1e-6)
    np.testing.assert_allclose(ops.image.hsv_to_rgb(hsv).numpy(), x, atol=1e-6)
    t = np.arange(5) - 2.0
    g = np.exp(-0.5 * (t / 1.5) ** 2)
    kernel = np.outer(g / g.sum(), g / g.sum())
    np.testing.assert_allclose(ops.image.gaussian_blur(IMG, kernel_size=5, sigma=1.5).numpy()[1],
                               _correlate2d(IMG[1], kernel, "constant"), atol=1e-6)
    dy = np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]])
    edges = ops.image.sobel_edges(IMG).numpy()
    assert edges.shape == IMG.shape + (2,)
    np.testing.assert_allclose(edges[0, ..., 0], _correlate2d(IMG[0], dy, "reflect"), atol=1e-5)
    np.testing.assert_allclose(edges[0, ..., 1], _correlate2d(IMG[0], dy.T, "reflect"), atol=1e-5)


def test_ssim_against_numpy():
    x = RNG.uniform(size=(2, 9, 8, 2))
    y = np.clip(x + 0.2 * RNG.standard_normal(x.shape), 0, 1)
    t = np.arange(5) - 2.0
    g = np.exp(-t ** 2 / (2 * 0.9 ** 2))
    k = np.outer(g, g) / g.sum() ** 2

    def blur(img):  # valid windows
        h, w = img.shape[0] - 4, img.shape[1] - 4
        return sum(k[i, j] * img[i:i + h, j:j + w] for i in range(5) for j in range(5))
    expected = []
    for a, b in zip(x, y):
        maps = []
        for ch in range(2):
            p, q = a[..., ch], b[..., ch]
            m1, m2 = blur(p), blur(q)
            v1, v2, cov = blur(p * p) - m1 ** 2, blur(q * q) - m2 ** 2, blur(p * q) - m1 * m2
            c1, c2 = 0.01 ** 2, 0.03 ** 2
            maps.append(((2 * m1 * m2 + c1) * (2 * cov + c2) / ((m1 ** 2 + m2 ** 2 + c1) * (v1 + v2 + c2))).mean())
        expected.append(np.mean(maps))
    np.testing.assert_allclose(ops.image.ssim(x, y, filter_size=5, filter_sigma=0.9).numpy(), expected, rtol=1e-10)
    assert math.isclose(float(ops.image.ssim(x[0], x[0], filter_size=5)), 1.0, rel_tol=1e-12)
    check_gradients(lambda a: ops.image.ssim(a, y[:1, :6, :6], filter_size=3), rand(1, 6, 6, 2, low=0, high=1))


@pytest.mark.parametrize("fill_mode,np_mode", [("constant", "constant"), ("nearest", "edge"), ("wrap", "wrap"),
                                               ("mirror", "reflect"), ("reflect", "symmetric")])
def test_map_coordinates_1d_against_numpy_padding(fill_mode, np_mode):
    """SciPy's fill modes are np.pad's under other names; linear interpolation between the padded neighbours."""
    v = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    coords = np.array([-7.3, -2.5, -0.2, 0.0, 1.6, 3.9, 4.4, 6.1, 11.7])
    pad = 20
    padded = np.pad(v, pad, mode=np_mode, **({"constant_values": -1.0} if np_mode == "constant" else {}))
    lo = np.floor(coords).astype(int)
    frac = coords - lo
    linear = padded[lo + pad] * (1 - frac) + padded[lo + 1 + pad] * frac
    nearest = padded[np.round(coords).astype(int) + pad]
    np.testing.assert_allclose(ops.image.map_coordinates(v, coords[None], 1, fill_mode, -1.0).numpy(), linear,
                               rtol=1e-12)
    np.testing.assert_allclose(ops.image.map_coordinates(v, coords[None], 0, fill_mode, -1.0).numpy(), nearest)


def test_map_coordinates_bilinear_gradients():
    coords = np.stack(np.meshgrid(np.linspace(-0.7, 2.6, 3), np.linspace(0.2, 3.4, 4), indexing="ij"))
    check_gradients(lambda img, c: ops.image.map_coordinates(img, c, 1), rand(3, 4), coords + 0.013)


def test_affine_transform_translations_rotation_and_gradients():
    img = IMG[:1]
    shift = np.array([1, 0, -3, 0, 1, 2, 0, 0], "float32")  # output (x, y) reads input (x - 3, y + 2)
    padded = {"reflect": np.pad(img, ((0, 0), (2, 2), (3, 3), (0, 0)), mode="symmetric"),
              "wrap": np.pad(img, ((0, 0), (2, 2), (3, 3), (0, 0)), mode="wrap"),
              "nearest": np.pad(img, ((0, 0), (2, 2), (3, 3), (0, 0)), mode="edge"),
              "constant": np.pad(img, ((0, 0), (2, 2), (3, 3), (0, 0)), constant_values=0.25)}
    for mode, p in padded.items():
        for interpolation in ("nearest", "bilinear"):
            out = ops.image.affine_transform(img, shift, interpolation, mode, fill_value=0.25).numpy()
            np.testing.assert_allclose(out, p[:, 4:8, 0:6], atol=1e-6, err_msg=f"{mode} {interpolation}")
    square = RNG.uniform(size=(5, 5, 2)).astype("float32")
    quarter = np.array([0, 1, 0, -1, 0, 4, 0, 0], "float32")  # output (x, y) reads input (y, 4 - x): clockwise
    np.testing.assert_allclose(ops.image.affine_transform(square, quarter, "nearest").numpy(),
                               np.rot90(square, -1, axes=(0, 1)), atol=1e-6)
    check_gradients(lambda im, t: ops.image.affine_transform(im, t), rand(1, 3, 4, 1),
                    np.array([0.9, 0.13, 0.31, -0.07, 1.1, 0.27, 0.0, 0.0]))


def test_perspective_transform_from_point_correspondences():
    corners = np.array([[0, 0], [5, 0], [0, 3], [5, 3]], "float32")
    np.testing.assert_allclose(ops.image.perspective_transform(IMG, corners, corners).numpy(), IMG, atol=1e-5)
    moved = ops.image.perspective_transform(IMG, corners, corners + [2.0, 1.0], "nearest").numpy()  # content moves
    np.testing.assert_allclose(moved[:, 1:, 2:], IMG[:, :-1, :-2], atol=1e-5)  # by (+2, +1): the inverse map reads
    assert np.all(moved[:, 0] == 0) and np.all(moved[:, :, :2] == 0)
    check_gradients(lambda e: ops.image.perspective_transform(IMG[:1, :3, :4, :1].astype("float64"), corners, e),
                    corners.astype("float64") + np.array([[0.13, 0.07], [-0.21, 0.11], [0.05, -0.17], [0.19, 0.23]]))


def test_non_differentiable_ops_give_no_gradient():
    x = tf.Variable(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with tf.GradientTape(persistent=True) as tape:
        outs = [ops.cholesky(x), ops.argsort(x), ops.floor(x), ops.isnan(x)]
    for out in outs:
        assert tape.gradient(out, x) is None


# -- names and errors -----------------------------------------------------------------------------------------------
def test_keras_names_and_submodules():
    assert keras.ops is ops
    for sub in ("nn", "linalg", "image", "numpy"):
        assert getattr(ops, sub).__name__ == f"gpuflow.keras.ops.{sub}"
    assert ops.tanh is ops.numpy.tanh and ops.sigmoid is ops.nn.sigmoid and ops.norm is ops.linalg.norm
    assert ops.gelu(np.float32(1.0)).numpy() == ops.nn.gelu(np.float32(1.0), approximate=True).numpy()
    implemented = [n for n in _names.OPS.split() if hasattr(ops, n)]
    assert len(implemented) >= 300
    for name in set(_names.OPS.split()) - set(implemented):
        with pytest.raises(AttributeError, match=rf"`tf.keras.ops.{name}` is not supported in gpuflow"):
            getattr(ops, name)
    with pytest.raises(AttributeError, match="`tf.keras.ops.image.elastic_transform` is not supported"):
        ops.image.elastic_transform  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'not_an_op'"):
        ops.not_an_op  # noqa: B018


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="Cannot squeeze axis 1"):
        ops.squeeze(np.zeros((1, 2)), axis=1)
    with pytest.raises(ValueError, match="`x1` and `x2` either both"):
        ops.where(np.array([True]), 1.0)
    with pytest.raises(ValueError, match="does not result in an equal division"):
        ops.split(np.zeros(5), 2)
    with pytest.raises(ValueError, match="Expected one of"):
        ops.quantile(np.zeros(5), 0.5, method="cubic")
    with pytest.raises(ValueError, match="same shape"):
        ops.binary_crossentropy(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Unsupported reduction: sub"):
        ops.scatter_update(np.zeros(3), np.array([[0]]), np.ones(1), reduction="sub")


# -- a custom layer and loss written with keras.ops, trained with fit ----------------------------------------------
class OpsDense(keras.layers.Layer):
    """Dense + gelu written with keras.ops only, as Keras 3 custom layers are."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        h = ops.add(ops.matmul(inputs, self.w), self.b)
        return ops.where(ops.greater(h, 0), h, ops.multiply(0.1, h))


def ops_loss(y_true, y_pred):
    return ops.mean(ops.square(ops.subtract(y_true, y_pred)), axis=-1)


def test_custom_layer_and_loss_with_keras_ops_train_with_fit():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], "float32")).astype("float32")
    model = keras.Sequential([keras.Input((3,)), OpsDense(8), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), loss=ops_loss)
    hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]


def test_ops_on_symbolic_inputs_are_functional_model_nodes(tmp_path):
    inp = keras.Input((4, 3))
    h = keras.layers.Dense(5)(inp)
    first, rest = ops.split(h, [2], axis=-1)
    assert (first.shape, rest.shape) == ((None, 4, 2), (None, 4, 3))
    assert ops.argmax(h, axis=-1).dtype == "int32" and ops.ndim(h) == 3 and ops.dtype(h) == "float32"
    pooled = ops.sum(ops.concatenate([rest, ops.relu(first)], axis=-1), axis=1)
    assert pooled.shape == (None, 5)
    model = keras.Model(inp, keras.layers.Dense(1)(pooled))
    assert len(model.layers) == 3  # the op nodes are not layers (Keras 3's Operations)
    x = RNG.standard_normal((6, 4, 3)).astype("float32")
    dense, head = model.layers[1], model.layers[2]
    hv = x @ dense.kernel.numpy() + dense.bias.numpy()
    manual = np.concatenate([hv[..., 2:], np.maximum(hv[..., :2], 0)], -1).sum(1) @ head.kernel.numpy() \
        + head.bias.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), manual, rtol=1e-5, atol=1e-5)
    model.compile("sgd", "mse")
    model.fit(x, np.ones((6, 1), "float32"), epochs=1, verbose=0)
    model.save(str(tmp_path / "m.keras"))  # Split, Relu, Concatenate, Sum: Keras's operation nodes
    np.testing.assert_allclose(keras.models.load_model(str(tmp_path / "m.keras")).predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_custom_gradient_keras_style():
    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))
        return ops.log(1 + e), grad

    x = tf.constant([0.0, 10.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.5, 1.0 - 1.0 / (1.0 + np.exp(10.0))], rtol=1e-6)
