// dense_tc.cu — fully connected layer forward on tensor cores (nvcuda::wmma): y = x @ w (+ b) (ReLU),
// the bias and ReLU fused into the epilogue, in TF32 (float32 tensors), BF16 and FP16 (16-bit
// tensors: x, w, b and y), all with float32 accumulation and a float32 epilogue (the 16-bit output
// is rounded once, to nearest even). x (M, K), w (K, N), b (N,), y (M, N); row-major, C-contiguous.
// The gradients stay dense.cu's epilogue kernel plus GEMMs issued by the wrapper.
//
// Tile, threads, shared memory, precision rules: wmma_tile.cuh (64 x 64 x 16 (TF32) / 32 (BF16, FP16)
// block tile, 128 threads = 4 warps of 32 x 32, 16 x 16 fragments). Launch: block (128, 1, 1) (anything else traps), grid
// (ceil(N / 64), ceil(M / 64), 1); tiles are grid-strided, so a smaller grid is also correct.
#include "wmma_tile.cuh"

// Dense input x[m, :] as one "tap" of K contiguous elements (a row past M reads zeros).
struct DenseRowTap {
    int base;  // m * K, or -1 past the last row
    __device__ __forceinline__ int operator()(int i, int) const { return i == 0 ? base : -1; }
};

template <class P>
struct DenseTcEpilogue {
    const typename P::T* __restrict__ b;
    int has_bias, relu;
    __device__ __forceinline__ float operator()(float v, int col) const {
        if (has_bias) v += P::to_float(b[col]);
        if (relu) v = v < 0.0f ? 0.0f : v;  // NaN passes through, as np.maximum(y, 0)
        return v;
    }
};

// b is read only if has_bias.
template <class P>
__device__ __forceinline__ void dense_bias_relu_fwd_tc(const typename P::T* __restrict__ x,
                                                       const typename P::T* __restrict__ w,
                                                       const typename P::T* __restrict__ b, typename P::T* __restrict__ y,
                                                       int M, int K, int N, int has_bias, int relu) {
    __shared__ GfTcSmem<P, 1, 0> sm;  // A: x (K contiguous), B: w (N contiguous)
    gf_tc_check_block();
    if (M <= 0 || N <= 0) return;
    DenseTcEpilogue<P> ep;
    ep.b = b;
    ep.has_bias = has_bias;
    ep.relu = relu;
    const int tiles_m = gf_cdiv(M, GF_TC_BM), tiles_n = gf_cdiv(N, GF_TC_BN);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_TC_BM, n0 = tn * GF_TC_BN;
            typename GfTcAcc<P>::type acc[2][2];
            const int row = m0 + (threadIdx.x >> 1);
            DenseRowTap tap;
            tap.base = row < M ? row * K : -1;
            GfTcTapRun<P, DenseRowTap> al(x, tap, K > 0 ? K : 1, 1);
            GfTcRowMajorB<P> bl(w, N, N, 0, K, n0);
            gf_tc_mainloop<P>(al, bl, K > 0 ? gf_cdiv(K, P::kBK) : 0, sm, acc);
            gf_tc_store_tile<P>(sm.c, acc, y, N, M, N, m0, n0, ep);
        }
    }
}

#define GF_DENSE_TC_PARAMS int M, int K, int N, int has_bias, int relu
#define GF_DENSE_TC_ARGS M, K, N, has_bias, relu

extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
dense_bias_relu_fwd_tf32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                         float* __restrict__ y, GF_DENSE_TC_PARAMS) {
    dense_bias_relu_fwd_tc<GfTf32>(x, w, b, y, GF_DENSE_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
dense_bias_relu_fwd_bf16(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                         const __nv_bfloat16* __restrict__ b, __nv_bfloat16* __restrict__ y, GF_DENSE_TC_PARAMS) {
    dense_bias_relu_fwd_tc<GfBf16>(x, w, b, y, GF_DENSE_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
dense_bias_relu_fwd_f16(const __half* __restrict__ x, const __half* __restrict__ w, const __half* __restrict__ b,
                        __half* __restrict__ y, GF_DENSE_TC_PARAMS) {
    dense_bias_relu_fwd_tc<GfF16>(x, w, b, y, GF_DENSE_TC_ARGS);
}
