// gemm_tile.cuh — the shared-memory tiled SGEMM main loop behind every GEMM-shaped kernel
// (conv2d forward / data gradient / filter gradient as implicit GEMM, dense forward).
//
// Tile: a thread block computes a GF_BM x GF_BN = 64 x 64 tile of C = A (M x K) * B (K x N),
// walking K in GF_BK = 16-wide slices. GF_GEMM_THREADS = 256 threads (8 warps), viewed as a 16 x 16
// grid; thread (ty, tx) owns a 4 x 4 register micro-tile: rows ty*4..ty*4+3, columns tx*4..tx*4+3
// of the block tile. Per K slice each thread loads 4 elements of A and 4 of B (a 64 x 16 slice of
// each operand = 1024 elements = 256 threads x 4), and does 16 x 16 = 256 FMAs from shared memory.
//
// Pipelining: shared memory is double-buffered (2 stages) and the next slice is prefetched into
// registers while the current one is multiplied, so there is one __syncthreads per K slice:
//     load(0) -> regs -> smem[0]; sync
//     for t: [load(t+1) -> regs]; mma(smem[t&1]); [regs -> smem[(t+1)&1]]; sync
// Writing smem[(t+1)&1] during step t is safe: its last readers ran in step t-1, before that
// step's barrier.
//
// Shared memory: 2 stages x (16 x 68 + 16 x 68) floats = 17,408 bytes per block (static; the +4
// padding keeps 16-byte alignment for 128-bit reads and makes the transposing stores 2-way rather
// than 4-way bank-conflicted).
//
// Occupancy (sm_80 / sm_90: 64K registers, 64 resident warps, 164 / 228 KB shared memory per SM):
// with <= 64 registers per thread, 4 blocks (32 warps, 50 %) per SM; <= 80 registers 3 blocks
// (24 warps, 37.5 %); <= 128 registers 2 blocks (25 %). Shared memory (17 KB/block) is not the
// limit. The convolution kernels use __launch_bounds__(256, GF_GEMM_MIN_BLOCKS = 3): ptxas fits
// them in 80 registers with no spills (uncapped they take 87-95, i.e. 2 blocks); the dense kernel,
// with simpler address arithmetic, fits 64 (4 blocks). ptxas figures for every entry point:
// `python -m gpuflow.backend.nvrtc_check`; tests/test_nvrtc_compile.py fails on any spill.
//
// Operand loaders. A kernel supplies one loader per operand, a struct with
//     enum { kKContig = 0 or 1 };       // layout of the 4 elements a thread loads, see below
//     void load(float (&r)[4]);         // fetch this thread's 4 elements of the current K slice
//                                       // (zero where outside the matrix / inside the padding)
//     void next();                      // advance to the next K slice
// kKContig = 1: the 4 elements are consecutive in K for one row (A) / column (B) of the tile:
//               thread t owns row (t / 4), K offsets (t % 4) * 4 .. +3 — used when K is the
//               contiguous axis in memory (NHWC channels), so 4 threads read 16 consecutive floats.
// kKContig = 0: the 4 elements are consecutive rows (A) / columns (B) of one K index:
//               thread t owns K offset (t / 16), rows/columns (t % 16) * 4 .. +3 — used when the
//               row/column axis is contiguous in memory; 16 threads read 64 consecutive floats.
// Either way the loader writes nothing; gf_gemm_mainloop stores into shared memory as
// As[k][m] / Bs[k][n] (K-major), which the micro-tile reads as 128-bit broadcasts.
#ifndef GPUFLOW_GEMM_TILE_CUH
#define GPUFLOW_GEMM_TILE_CUH

#include "common.cuh"

#define GF_BM 64
#define GF_BN 64
#define GF_BK 16
#define GF_PAD 4
#define GF_GEMM_THREADS 256
#define GF_GEMM_MIN_BLOCKS 3  // __launch_bounds__ minimum resident blocks per SM (<= 80 registers)

struct alignas(16) GfGemmSmem {
    float a[2][GF_BK][GF_BM + GF_PAD];
    float b[2][GF_BK][GF_BN + GF_PAD];
};

// This thread's position inside a loader's 64 x 16 slice, for either layout.
__device__ __forceinline__ int gf_kc_row() { return threadIdx.x >> 2; }          // kKContig=1: row/col
__device__ __forceinline__ int gf_kc_k() { return (threadIdx.x & 3) << 2; }      // kKContig=1: first k
__device__ __forceinline__ int gf_mc_k() { return threadIdx.x >> 4; }            // kKContig=0: k
__device__ __forceinline__ int gf_mc_row() { return (threadIdx.x & 15) << 2; }   // kKContig=0: first row/col

template <int KContig>
__device__ __forceinline__ void gf_stage_store(float (*s)[GF_BM + GF_PAD], const float (&r)[4]) {
    if (KContig) {
        const int row = gf_kc_row(), k = gf_kc_k();
#pragma unroll
        for (int q = 0; q < 4; ++q) s[k + q][row] = r[q];
    } else {
        gf_float4 v;
        v.x = r[0]; v.y = r[1]; v.z = r[2]; v.w = r[3];
        *reinterpret_cast<gf_float4*>(&s[gf_mc_k()][gf_mc_row()]) = v;
    }
}

// acc[p][q] += sum_k As[k][ty*4+p] * Bs[k][tx*4+q] over one K slice.
__device__ __forceinline__ void gf_mma_slice(const float (*as)[GF_BM + GF_PAD],
                                             const float (*bs)[GF_BN + GF_PAD], float (&acc)[4][4]) {
    const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
#pragma unroll
    for (int k = 0; k < GF_BK; ++k) {
        const gf_float4 a = *reinterpret_cast<const gf_float4*>(&as[k][ty * 4]);
        const gf_float4 b = *reinterpret_cast<const gf_float4*>(&bs[k][tx * 4]);
        const float av[4] = {a.x, a.y, a.z, a.w};
        const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int p = 0; p < 4; ++p)
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[p][q] = fmaf(av[p], bv[q], acc[p][q]);
    }
}

// Runs `num_slices` K slices of the block tile through shared memory, accumulating into acc.
// Every thread of the block must call it (it contains __syncthreads); num_slices is block-uniform.
template <class ALoader, class BLoader>
__device__ __forceinline__ void gf_gemm_mainloop(ALoader& al, BLoader& bl, int num_slices,
                                                 GfGemmSmem& sm, float (&acc)[4][4]) {
    if (num_slices <= 0) return;
    float ra[4], rb[4];
    al.load(ra);
    bl.load(rb);
    gf_stage_store<ALoader::kKContig>(sm.a[0], ra);
    gf_stage_store<BLoader::kKContig>(sm.b[0], rb);
    __syncthreads();
    for (int t = 0; t < num_slices; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < num_slices;
        if (more) {  // global loads for slice t+1 are in flight while slice t is multiplied
            al.next();
            bl.next();
            al.load(ra);
            bl.load(rb);
        }
        gf_mma_slice(sm.a[cur], sm.b[cur], acc);
        if (more) {
            gf_stage_store<ALoader::kKContig>(sm.a[cur ^ 1], ra);
            gf_stage_store<BLoader::kKContig>(sm.b[cur ^ 1], rb);
        }
        __syncthreads();
    }
}

__device__ __forceinline__ void gf_zero_acc(float (&acc)[4][4]) {
#pragma unroll
    for (int p = 0; p < 4; ++p)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[p][q] = 0.0f;
}

// Writes the micro-tile to out[row * ldc + col] (row < M, col < N), applying an epilogue
// `float ep(float v, int col)`; 128-bit stores when a whole 4-column group is in range and aligned.
template <class Epilogue>
__device__ __forceinline__ void gf_store_tile(float* __restrict__ out, int ldc, int M, int N, int m0,
                                              int n0, const float (&acc)[4][4], const Epilogue& ep) {
    const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
    const int col0 = n0 + tx * 4;
    if (col0 >= N) return;
    const bool vec = (ldc & 3) == 0 && col0 + 3 < N && gf_aligned16(out);
#pragma unroll
    for (int p = 0; p < 4; ++p) {
        const int row = m0 + ty * 4 + p;
        if (row >= M) break;
        float* dst = out + row * ldc + col0;
        if (vec) {
            gf_float4 v;
            v.x = ep(acc[p][0], col0);
            v.y = ep(acc[p][1], col0 + 1);
            v.z = ep(acc[p][2], col0 + 2);
            v.w = ep(acc[p][3], col0 + 3);
            *reinterpret_cast<gf_float4*>(dst) = v;
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q)
                if (col0 + q < N) dst[q] = ep(acc[p][q], col0 + q);
        }
    }
}

struct GfIdentityEpilogue {
    __device__ __forceinline__ float operator()(float v, int) const { return v; }
};

// The bias + ReLU epilogue (dense and convolution forward): v + b[col] if has_bias, then ReLU if relu.
struct GfBiasReluEpilogue {
    const float* __restrict__ b;
    int has_bias, relu;
    __device__ __forceinline__ float operator()(float v, int col) const {
        if (has_bias) v += b[col];
        if (relu) v = v < 0.0f ? 0.0f : v;  // NaN passes through, as np.maximum(y, 0)
        return v;
    }
};

// out[e] = ep(0, e % ncols) for e in [0, count), on every thread of the grid (as gf_fill): the output of
// an empty reduction (K = 0) through its epilogue.
template <class Epilogue>
__device__ __forceinline__ void gf_fill_epilogue(float* out, int count, int ncols, const Epilogue& ep) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int nthreads = blockDim.x * gridDim.x * gridDim.y * gridDim.z;
    for (int e = block * blockDim.x + threadIdx.x; e < count; e = count - e > nthreads ? e + nthreads : count)
        out[e] = ep(0.0f, e % ncols);
}

// B[k][n] = p[k * ld + n] for k in [k_begin, k_end), n < ncols: a row-major operand whose columns are
// contiguous (conv filter (KH*KW*C) x F, dy as (N*OH*OW) x F, dense weights K x N).
struct GfRowMajorB {
    enum { kKContig = 0 };
    const float* __restrict__ p;
    int ld, ncols, k_end;
    int k;     // this thread's current K index
    int col0;  // first of this thread's 4 columns
    bool vec;

    __device__ __forceinline__ GfRowMajorB(const float* __restrict__ p_, int ld_, int ncols_, int k_begin,
                                           int k_end_, int n0)
        : p(p_), ld(ld_), ncols(ncols_), k_end(k_end_) {
        k = k_begin + gf_mc_k();
        col0 = n0 + gf_mc_row();
        vec = (ld & 3) == 0 && gf_aligned16(p) && col0 + 3 < ncols;
    }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (k < k_end && vec) {
            const gf_float4 v = *reinterpret_cast<const gf_float4*>(p + k * ld + col0);
            r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
        } else {
#pragma unroll
            for (int q = 0; q < 4; ++q)
                r[q] = (k < k_end && col0 + q < ncols) ? p[k * ld + col0 + q] : 0.0f;
        }
    }
    __device__ __forceinline__ void next() { k += GF_BK; }
};

#endif  // GPUFLOW_GEMM_TILE_CUH
