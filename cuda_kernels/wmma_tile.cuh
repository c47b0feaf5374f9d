// wmma_tile.cuh — the tensor-core tiled GEMM behind the *_tc.cu kernels (conv2d_tc.cu, dense_tc.cu):
// C (M x N, float accumulators) = A (M x K) * B (K x N) through nvcuda::wmma, for three precisions:
//
//   policy   tensors in memory     fragments (mma.h)               wmma shape   entry-point suffix
//   GfTf32   float                 precision::tf32 (10-bit mant.)  m16n16k8     _tf32
//   GfBf16   __nv_bfloat16         __nv_bfloat16                   m16n16k16    _bf16
//   GfF16    __half                __half                          m16n16k16    _f16
//
// TF32: float32 tensors; each operand element is rounded to TF32 with wmma::__float_to_tf32
// (cvt.rna.tf32.f32, round to nearest, ties away from zero) as it is staged into shared memory; the
// output is float32. BF16 / FP16: the tensors are 16-bit (mixed precision's compute dtype), the
// output is rounded to the same type (round to nearest even) after the float epilogue. All three
// accumulate in float32.
//
// Tile (CUTLASS terms): thread-block tile 64 x 64 x kBK (GF_TC_BM x GF_TC_BN x P::kBK; kBK = 16 for
// TF32, 32 for BF16/FP16: 4 KiB of each operand per K slice either way), 128 threads = 4 warps as
// 2 x 2, each warp a 32 x 32 warp tile = 2 x 2 accumulator fragments of 16 x 16; per K slice each
// warp runs 2 k-steps of 4 mma_sync: 32 HMMA.1684.F32.TF32 (TF32) or 16 HMMA.16816.F32 (BF16, FP16)
// per warp and slice in the SASS of sm_80 and sm_90, no FFMA.
//
// Registers and occupancy (ptxas, `python -m gpuflow.backend.nvrtc_check`): __launch_bounds__(128,
// GF_TC_MIN_BLOCKS = 4) caps ptxas at 128 registers; every entry point takes 103-128 with no spills,
// so 4 blocks = 16 warps per SM (25 %) on sm_80 and sm_90; shared memory (19 KB per block) would
// allow 8 (sm_80) / 11 (sm_90). (With K slices of 32 for TF32 too, the TF32 kernels needed 168-198
// registers: 12.5 %.) The hot loop is HMMA but long (about 400-2000 instructions per slice, counted
// statically): the implicit-GEMM loaders' address arithmetic and both their 128-bit and scalar paths
// sit in it (one of the two runs). NVRTC 13.5 emits the FP16 fragment loads as wmma.load...shared
// (LDS) but the TF32 and BF16 ones with generic addresses (LD.E), although every pointer is derived
// from the __shared__ tile; it does not change with explicit per-stage pointers or __isShared hints
// (ldmatrix / mma.sync through inline PTX, behind a path the emulator runs, would be the way). Not
// yet run or tuned on a GPU: fewer live loader registers (a per-slice address table), more stages
// and cp.async staging (once the emulator runs it) are the next steps.
//
// Pipelining as gemm_tile.cuh: shared memory is double-buffered and the next slice is fetched into
// registers (kRun = 8 (TF32) / 16 elements of A and of B per thread: two 128-bit loads each) while
// the current one is multiplied; one __syncthreads per slice. No cp.async (the emulator does not
// run it).
//
// Shared memory (static, < 48 KiB): 2 stages x (64 x (kBK + pad) of A + kBK x (64 + pad) of B):
// 18,944 bytes for TF32 (pad 4 floats), 19,456 bytes for BF16/FP16 (pad 8 halves); the 64 x 68 float
// accumulator tile of the epilogue reuses the same bytes. Rows are padded by 16 bytes so that
// wmma's ldm is a multiple of 16 bytes and every fragment pointer is 32-byte aligned, as
// load_matrix_sync / store_matrix_sync require.
//
// Global loads: coalesced along the contiguous NHWC axis; 128-bit (4 floats / 8 halves) when that
// axis is a multiple of the vector width and the buffer is 16-byte aligned, else scalar with
// per-element predicates (odd channel counts, tiles overhanging M, N or K). Stores: 128-bit when the
// output row length is a multiple of the vector width, else scalar.
//
// Operand loaders. A kernel supplies one per operand: enum { kKContig }, load(T (&r)[kRun]) (this
// thread's kRun elements of the current slice, zero outside the matrix), next() (advance one slice).
// kKContig = 1: the kRun elements are consecutive in K for one row (A) / column (B): thread t owns
//               row t / 2, k offsets (t % 2) * kRun .. + kRun - 1 (2 threads read the slice's kBK).
// kKContig = 0: the kRun elements are consecutive rows (A) / columns (B) of one k: thread t owns
//               k offset t / (64 / kRun), rows/columns (t % (64 / kRun)) * kRun .. (64 / kRun
//               threads read 64 consecutive elements).
// The element-to-lane layout of wmma fragments is never assumed: fragments go to and from shared
// memory only through load_matrix_sync / store_matrix_sync (the emulator randomises the layout).
#ifndef GPUFLOW_WMMA_TILE_CUH
#define GPUFLOW_WMMA_TILE_CUH

#include <mma.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "common.cuh"

#define GF_TC_BM 64
#define GF_TC_BN 64
#define GF_TC_THREADS 128  // 4 warps: 2 x 2 warp tiles of 32 x 32
#define GF_TC_WARP_M 32
#define GF_TC_WARP_N 32
#define GF_TC_MIN_BLOCKS 4 // __launch_bounds__ minimum resident blocks per SM: <= 128 registers

// float -> a tensor element type: exact for float, round to nearest even for the 16-bit types.
template <class T> __device__ __forceinline__ T gf_tc_from_float(float v);
template <> __device__ __forceinline__ float gf_tc_from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half gf_tc_from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 gf_tc_from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// ---- precision policies ---------------------------------------------------------------------------
struct GfTf32 {
    typedef float T;                                  // element type in memory
    typedef nvcuda::wmma::precision::tf32 FragT;      // matrix_a / matrix_b fragment element type
    // wmma K; K slice (block tile K); elements per 128 bits; row padding; elements of one operand
    // slice per thread (64 * kBK / 128 = 2 vectors of 128 bits)
    enum { kK = 8, kBK = 16, kVec = 4, kPad = 4, kRun = 8 };
    static __device__ __forceinline__ float to_float(T v) { return v; }
    static __device__ __forceinline__ T operand(T v) { return nvcuda::wmma::__float_to_tf32(v); }
    static __device__ __forceinline__ T out(float v) { return gf_tc_from_float<T>(v); }
};
struct GfBf16 {
    typedef __nv_bfloat16 T;
    typedef __nv_bfloat16 FragT;
    enum { kK = 16, kBK = 32, kVec = 8, kPad = 8, kRun = 16 };
    static __device__ __forceinline__ float to_float(T v) { return __bfloat162float(v); }
    static __device__ __forceinline__ T operand(T v) { return v; }
    static __device__ __forceinline__ T out(float v) { return gf_tc_from_float<T>(v); }
};
struct GfF16 {
    typedef __half T;
    typedef __half FragT;
    enum { kK = 16, kBK = 32, kVec = 8, kPad = 8, kRun = 16 };
    static __device__ __forceinline__ float to_float(T v) { return __half2float(v); }
    static __device__ __forceinline__ T operand(T v) { return v; }
    static __device__ __forceinline__ T out(float v) { return gf_tc_from_float<T>(v); }
};

template <class P> struct GfTcFragments {
    typedef nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, P::kK, typename P::FragT, nvcuda::wmma::row_major> A;
    typedef nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, P::kK, typename P::FragT, nvcuda::wmma::row_major> B;
    typedef nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, P::kK, float> Acc;
};

// One thread's kRun operand elements, 16-byte aligned for 128-bit register moves.
template <class P> struct alignas(16) GfTcRun {
    typename P::T e[P::kRun];
};

template <class P> struct alignas(128) GfTcSmem {
    union {
        struct {
            typename P::T a[2][GF_TC_BM][P::kBK + P::kPad];  // A slices, row-major (m, k)
            typename P::T b[2][P::kBK][GF_TC_BN + P::kPad];  // B slices, row-major (k, n)
        } op;
        float c[GF_TC_BM][GF_TC_BN + 4];                      // the accumulator tile, for the epilogue
    };
};

// ---- helpers --------------------------------------------------------------------------------------
template <class P> __device__ __forceinline__ typename P::T gf_tc_zero() { return P::out(0.0f); }

// 16 bytes from p (16-byte aligned) to r.
template <class T> __device__ __forceinline__ void gf_ld128(const T* __restrict__ p, T* r) {
    *reinterpret_cast<gf_float4*>(r) = *reinterpret_cast<const gf_float4*>(p);
}

// Fills out[0, count) with v converted to the output type (degenerate shapes, invalid arguments).
template <class P> __device__ __forceinline__ void gf_tc_fill(typename P::T* out, int count, float v) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int nthreads = blockDim.x * gridDim.x * gridDim.y * gridDim.z;
    for (int e = block * blockDim.x + threadIdx.x; e < count; e = count - e > nthreads ? e + nthreads : count)
        out[e] = P::out(v);
}

// kKContig = 0 operands: this thread's k within the slice and its first row / column of the 64.
template <class P> __device__ __forceinline__ int gf_tc_mc_k() { return threadIdx.x / (GF_TC_BN / P::kRun); }
template <class P> __device__ __forceinline__ int gf_tc_mc_col() { return threadIdx.x % (GF_TC_BN / P::kRun) * P::kRun; }

// Every tensor-core kernel runs 128 threads (4 full warps: wmma is warp-collective).
__device__ __forceinline__ void gf_tc_check_block() {
    if (blockDim.x != GF_TC_THREADS || blockDim.y != 1 || blockDim.z != 1) __trap();
}

// Stages this thread's kRun elements of A into As[m][k] (converted to the fragment precision).
template <int KContig, class P>
__device__ __forceinline__ void gf_tc_stage_a(typename P::T (*as)[P::kBK + P::kPad], const GfTcRun<P>& r) {
    if (KContig) {  // row t/2, k (t%2)*16 .. +15: contiguous in shared memory, 128-bit stores
        GfTcRun<P> v;
#pragma unroll
        for (int q = 0; q < P::kRun; ++q) v.e[q] = P::operand(r.e[q]);
        typename P::T* dst = &as[threadIdx.x >> 1][(threadIdx.x & 1) * P::kRun];
#pragma unroll
        for (int q = 0; q < P::kRun; q += P::kVec) gf_ld128(v.e + q, dst + q);
    } else {        // k t/4, rows (t%4)*16 .. +15: a transposing store
        const int k = gf_tc_mc_k<P>(), m0 = gf_tc_mc_col<P>();
#pragma unroll
        for (int q = 0; q < P::kRun; ++q) as[m0 + q][k] = P::operand(r.e[q]);
    }
}

// Stages this thread's kRun elements of B into Bs[k][n].
template <int KContig, class P>
__device__ __forceinline__ void gf_tc_stage_b(typename P::T (*bs)[GF_TC_BN + P::kPad], const GfTcRun<P>& r) {
    if (KContig) {  // column t/2, k (t%2)*16 .. +15: a transposing store
        const int n = threadIdx.x >> 1, k0 = (threadIdx.x & 1) * P::kRun;
#pragma unroll
        for (int q = 0; q < P::kRun; ++q) bs[k0 + q][n] = P::operand(r.e[q]);
    } else {        // k t/4, columns (t%4)*16 .. +15: contiguous, 128-bit stores
        GfTcRun<P> v;
#pragma unroll
        for (int q = 0; q < P::kRun; ++q) v.e[q] = P::operand(r.e[q]);
        typename P::T* dst = &bs[gf_tc_mc_k<P>()][gf_tc_mc_col<P>()];
#pragma unroll
        for (int q = 0; q < P::kRun; q += P::kVec) gf_ld128(v.e + q, dst + q);
    }
}

// acc[i][j] += A(warp rows i) * B(warp columns j) over one 32-wide K slice in shared memory.
template <class P>
__device__ __forceinline__ void gf_tc_mma_slice(const typename P::T (*as)[P::kBK + P::kPad],
                                                const typename P::T (*bs)[GF_TC_BN + P::kPad],
                                                typename GfTcFragments<P>::Acc (&acc)[2][2]) {
    const int warp = threadIdx.x >> 5;
    const int wm = (warp >> 1) * GF_TC_WARP_M, wn = (warp & 1) * GF_TC_WARP_N;
#pragma unroll
    for (int kk = 0; kk < P::kBK; kk += P::kK) {
        typename GfTcFragments<P>::A fa[2];
        typename GfTcFragments<P>::B fb[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) nvcuda::wmma::load_matrix_sync(fa[i], &as[wm + 16 * i][kk], P::kBK + P::kPad);
#pragma unroll
        for (int j = 0; j < 2; ++j) nvcuda::wmma::load_matrix_sync(fb[j], &bs[kk][wn + 16 * j], GF_TC_BN + P::kPad);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j) nvcuda::wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
}

// Runs num_slices K slices of the block tile, accumulating into acc (zeroed here). Every thread of
// the block calls it (it has __syncthreads); num_slices is block-uniform.
template <class P, class ALoader, class BLoader>
__device__ __forceinline__ void gf_tc_mainloop(ALoader& al, BLoader& bl, int num_slices, GfTcSmem<P>& sm,
                                               typename GfTcFragments<P>::Acc (&acc)[2][2]) {
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
    if (num_slices <= 0) return;
    GfTcRun<P> ra, rb;
    al.load(ra.e);
    bl.load(rb.e);
    gf_tc_stage_a<ALoader::kKContig, P>(sm.op.a[0], ra);
    gf_tc_stage_b<BLoader::kKContig, P>(sm.op.b[0], rb);
    __syncthreads();
    for (int t = 0; t < num_slices; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < num_slices;
        if (more) {  // global loads of slice t+1 in flight while slice t is multiplied
            al.next();
            bl.next();
            al.load(ra.e);
            bl.load(rb.e);
        }
        gf_tc_mma_slice<P>(sm.op.a[cur], sm.op.b[cur], acc);
        if (more) {
            gf_tc_stage_a<ALoader::kKContig, P>(sm.op.a[cur ^ 1], ra);
            gf_tc_stage_b<BLoader::kKContig, P>(sm.op.b[cur ^ 1], rb);
        }
        __syncthreads();
    }
}

// Epilogue: the accumulators go through shared memory (their register layout is unspecified), then
// out[row * ldc + col] = ep(acc, col) converted to OutT (P::T, or float for split-K partials) for
// row < M, col < N; consecutive threads write consecutive 128-bit chunks of a row. Every thread
// calls it (it has __syncthreads); it ends with a barrier, so the next tile may restage shared memory.
template <class P, class OutT, class Epilogue>
__device__ __forceinline__ void gf_tc_store_tile(GfTcSmem<P>& sm, const typename GfTcFragments<P>::Acc (&acc)[2][2],
                                                 OutT* __restrict__ out, int ldc, int M, int N, int m0, int n0,
                                                 const Epilogue& ep) {
    enum { kOutVec = 16 / sizeof(OutT) };  // elements per 128-bit store
    const int warp = threadIdx.x >> 5;
    const int wm = (warp >> 1) * GF_TC_WARP_M, wn = (warp & 1) * GF_TC_WARP_N;
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            nvcuda::wmma::store_matrix_sync(&sm.c[wm + 16 * i][wn + 16 * j], acc[i][j], GF_TC_BN + 4,
                                            nvcuda::wmma::mem_row_major);
    __syncthreads();
    const int chunks = GF_TC_BN / kOutVec;  // 128-bit chunks per tile row
    const bool vec = (ldc % kOutVec) == 0 && gf_aligned16(out);
    for (int e = threadIdx.x; e < GF_TC_BM * chunks; e += GF_TC_THREADS) {
        const int r = e / chunks, c0 = (e % chunks) * kOutVec;
        const int row = m0 + r, col = n0 + c0;
        if (row >= M || col >= N) continue;
        OutT* dst = out + row * ldc + col;
        if (vec && col + kOutVec <= N) {
            alignas(16) OutT v[kOutVec];
#pragma unroll
            for (int q = 0; q < kOutVec; ++q) v[q] = gf_tc_from_float<OutT>(ep(sm.c[r][c0 + q], col + q));
            gf_ld128(v, dst);
        } else {
            for (int q = 0; q < kOutVec && col + q < N; ++q) dst[q] = gf_tc_from_float<OutT>(ep(sm.c[r][c0 + q], col + q));
        }
    }
    __syncthreads();
}

struct GfTcIdentity {
    __device__ __forceinline__ float operator()(float v, int) const { return v; }
};

// ---- operand loaders ------------------------------------------------------------------------------
// A run along K through "taps": k = (i * KW + j) * CH + c, element p[tap(i, j) + c], zero where
// tap(i, j) < 0 (padding, i past the last tap, a row past M). Tap is a functor of the thread's
// row. kKContig = 1: this thread's kRun elements are k = k0 .. k0 + kRun - 1 of its row. Used for the conv
// forward's input (taps = filter taps, CH = C), the conv data gradient's dy (CH = F) and filters
// (KW = 1, taps = i*KW + j, CH = F), and the dense input (one tap, CH = K).
template <class P, class Tap>
struct GfTcTapRun {
    enum { kKContig = 1 };
    typedef typename P::T T;
    const T* __restrict__ p;
    Tap tap;
    int CH, KW;
    int i, j, c;  // the first k of this thread's run in the current slice
    int base;     // tap(i, j)
    bool vec;     // CH % kVec == 0 and p 16-byte aligned: 128-bit loads that never straddle a tap

    __device__ __forceinline__ GfTcTapRun(const T* __restrict__ p_, const Tap& tap_, int CH_, int KW_)
        : p(p_), tap(tap_), CH(CH_), KW(KW_) {
        const int k0 = (threadIdx.x & 1) * P::kRun;
        c = k0 % CH;
        const int ij = k0 / CH;
        j = ij % KW;
        i = ij / KW;
        base = tap(i, j);
        vec = (CH % P::kVec) == 0 && gf_aligned16(p);
    }
    __device__ __forceinline__ void load(T (&r)[P::kRun]) const {
        int ii = i, jj = j, cc = c, b = base;
        if (vec) {
#pragma unroll
            for (int q = 0; q < P::kRun; q += P::kVec) {
                if (b >= 0) {
                    gf_ld128(p + b + cc, r + q);
                } else {
#pragma unroll
                    for (int e = 0; e < P::kVec; ++e) r[q + e] = gf_tc_zero<P>();
                }
                cc += P::kVec;
                if (cc == CH) {
                    cc = 0;
                    if (++jj == KW) { jj = 0; ++ii; }
                    b = tap(ii, jj);
                }
            }
            return;
        }
#pragma unroll
        for (int q = 0; q < P::kRun; ++q) {
            r[q] = b >= 0 ? p[b + cc] : gf_tc_zero<P>();
            if (++cc == CH) {
                cc = 0;
                if (++jj == KW) { jj = 0; ++ii; }
                b = tap(ii, jj);
            }
        }
    }
    __device__ __forceinline__ void next() {
        c += P::kBK;
        if (c >= CH) {
            do {
                c -= CH;
                if (++j == KW) { j = 0; ++i; }
            } while (c >= CH);
            base = tap(i, j);
        }
    }
};

// B[k][n] = p[k * ld + n] for k in [k_begin, k_end), n < ncols: a row-major operand with contiguous
// columns (dense weights K x N, conv filters (KH*KW*C) x F, dy as (N*OH*OW) x F). kKContig = 0.
template <class P>
struct GfTcRowMajorB {
    enum { kKContig = 0 };
    typedef typename P::T T;
    const T* __restrict__ p;
    int ld, ncols, k_end;
    int k;     // this thread's K index
    int col0;  // first of this thread's 16 columns
    bool vec;

    __device__ __forceinline__ GfTcRowMajorB(const T* __restrict__ p_, int ld_, int ncols_, int k_begin, int k_end_,
                                             int n0)
        : p(p_), ld(ld_), ncols(ncols_), k_end(k_end_) {
        k = k_begin + gf_tc_mc_k<P>();
        col0 = n0 + gf_tc_mc_col<P>();
        vec = (ld % P::kVec) == 0 && gf_aligned16(p);
    }
    __device__ __forceinline__ void load(T (&r)[P::kRun]) const {
        const T* row = p + k * ld;
#pragma unroll
        for (int q = 0; q < P::kRun; q += P::kVec) {
            const int col = col0 + q;
            if (k < k_end && vec && col + P::kVec <= ncols) {
                gf_ld128(row + col, r + q);
            } else {
#pragma unroll
                for (int e = 0; e < P::kVec; ++e)
                    r[q + e] = (k < k_end && col + e < ncols) ? row[col + e] : gf_tc_zero<P>();
            }
        }
    }
    __device__ __forceinline__ void next() { k += P::kBK; }
};

#endif  // GPUFLOW_WMMA_TILE_CUH
