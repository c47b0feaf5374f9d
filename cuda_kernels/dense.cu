// dense.cu — fully connected layer: SGEMM with a fused bias + ReLU epilogue, and the backward
// epilogue (ReLU mask + bias gradient). x (M, K), w (K, N), b (N,), y / dy / dz (M, N); float32,
// row-major, C-contiguous. The data and weight gradients (dz @ w^T, x^T @ dz) are cuBLAS GEMMs
// issued by the Python wrapper.
#include "common.cuh"
#include "gemm_tile.cuh"

// A[m][k] = x[m*K + k]. kKContig = 1: thread t owns row m0 + t/4 and columns k..k+3 (128-bit load
// when K % 4 == 0 and x is 16-byte aligned).
struct DenseA {
    enum { kKContig = 1 };
    const float* __restrict__ x;
    int K, k, base;  // base = m*K, or -1 past the last row
    bool vec;

    __device__ __forceinline__ DenseA(const float* __restrict__ x_, int M, int K_, int m0) : x(x_), K(K_) {
        const int row = m0 + gf_kc_row();
        base = row < M ? row * K : -1;
        k = gf_kc_k();
        vec = (K & 3) == 0 && gf_aligned16(x);
    }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (vec && base >= 0 && k < K) {
            const gf_float4 v = *reinterpret_cast<const gf_float4*>(x + base + k);
            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q) r[q] = (base >= 0 && k + q < K) ? x[base + k + q] : 0.0f;
        }
    }
    __device__ __forceinline__ void next() { k += GF_BK; }
};

// y = x @ w (+ b) (ReLU if relu). b is read only if has_bias.
// Tile 64 x 64 x 16, 256 threads (8 warps), 4x4 register micro-tile, 17,408 bytes static shared
// memory (double-buffered), __launch_bounds__(256, 4): <= 64 registers, 4 blocks = 32 warps per SM
// (50 % occupancy) on sm_80 / sm_90, no spills (see the ptxas table). Launch: block (256,1,1),
// grid (ceil(N/64), ceil(M/64), 1); tiles are grid-strided, so a smaller grid is also correct.
// A Keras-sized layer (M = batch 32..256, N = 10..512) gives few blocks; whether this beats cuBLAS +
// a separate bias/ReLU pass is for the benchmarks to say (DESIGN.md rule 2).
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, 4)
dense_bias_relu_fwd_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                        float* __restrict__ y, int M, int K, int N, int has_bias, int relu) {
    __shared__ GfGemmSmem sm;
    if (M <= 0 || N <= 0) return;
    const int tiles_m = gf_cdiv(M, GF_BM), tiles_n = gf_cdiv(N, GF_BN);
    GfBiasReluEpilogue ep;  // gemm_tile.cuh
    ep.b = b;
    ep.has_bias = has_bias;
    ep.relu = relu;
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_BM, n0 = tn * GF_BN;
            float acc[4][4];
            gf_zero_acc(acc);
            DenseA al(x, M, K, m0);
            GfRowMajorB bl(w, N, N, 0, K, n0);
            gf_gemm_mainloop(al, bl, K > 0 ? gf_cdiv(K, GF_BK) : 0, sm, acc);
            gf_store_tile(y, N, M, N, m0, n0, acc, ep);
        }
    }
}

// dz = relu ? dy * (y > 0) : dy  (the mask is a multiply, as the NumPy reference, so NaN/inf in dy
// behave the same); db[n] = sum_m dz[m, n], written only if has_bias.
// One pass, one kernel, deterministic (no atomics): a block owns 32 consecutive columns; its warps
// split the rows (warp g takes rows g, g + nwarps, ...; lane = column, so every warp access is a
// coalesced 128-byte row segment); each thread keeps a running column sum in a register, then the
// warps' partial sums are combined through shared memory after a __syncthreads (fixed order).
// Launch: block (256, 1, 1) (any multiple of 32 up to 1024 works), grid (ceil(N / 32), 1, 1);
// column blocks are grid-strided, so a smaller grid is correct. 4.2 KB static shared memory,
// ~20 registers: full occupancy. Memory-bound: reads dy and y once, writes dz once.
// Parallelism is ceil(N / 32) blocks; for very tall, narrow dy (M >> N) the rows would also need
// splitting (with a second reduction pass) to fill the GPU.
extern "C" __global__ void __launch_bounds__(1024)
dense_bias_relu_bwd_f32(const float* __restrict__ dy, const float* __restrict__ y, float* __restrict__ dz,
                        float* __restrict__ db, int M, int N, int has_bias, int relu) {
    __shared__ float part[32][33];  // [warp][lane]; +1 column against bank conflicts on the transpose
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int nwarps = blockDim.x >> 5;  // a trailing partial warp (blockDim.x % 32 != 0) only syncs
    if (nwarps == 0 || nwarps > 32) return;
    for (int cb = blockIdx.x; cb * 32 < N; cb += gridDim.x) {
        const int col = cb * 32 + lane;
        float s = 0.0f;
        if (col < N && warp < nwarps) {
            for (int m = warp; m < M; m += nwarps) {
                const int e = m * N + col;
                float g = dy[e];
                if (relu) g = g * (y[e] > 0.0f ? 1.0f : 0.0f);
                dz[e] = g;
                s += g;
            }
        }
        if (has_bias) {
            part[warp][lane] = s;
            __syncthreads();
            if (warp == 0 && col < N) {
                float t = 0.0f;
                for (int g = 0; g < nwarps; ++g) t += part[g][lane];
                db[col] = t;
            }
            __syncthreads();  // part is reused by the next column block
        }
    }
}
