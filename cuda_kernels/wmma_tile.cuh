// wmma_tile.cuh — the tensor-core tiled GEMM behind the *_tc.cu kernels (conv2d_tc.cu, dense_tc.cu):
// C (M x N, float accumulators) = A (M x K) * B (K x N) through nvcuda::wmma, for three precisions:
//
//   policy   tensors in memory     fragments (mma.h)               wmma shape   entry-point suffix
//   GfTf32   float                 precision::tf32 (10-bit mant.)  m16n16k8     _tf32
//   GfBf16   __nv_bfloat16         __nv_bfloat16                   m16n16k16    _bf16
//   GfF16    __half                __half                          m16n16k16    _f16
//
// TF32: float32 tensors; each operand element is rounded to TF32 with wmma::__float_to_tf32
// (cvt.rna.tf32.f32, round to nearest, ties away from zero) in the fragments, after load_matrix_sync;
// the output is float32. BF16 / FP16: the tensors are 16-bit (mixed precision's compute dtype), the
// output is rounded to the same type (round to nearest even) after the float epilogue. All three
// accumulate in float32.
//
// Tile (CUTLASS terms): thread-block tile 64 x 64 x kBK (GF_TC_BM x GF_TC_BN x P::kBK; kBK = 16 for
// TF32, 32 for BF16/FP16: 4 KiB of each operand per K slice either way), 128 threads = 4 warps as
// 2 x 2, each warp a 32 x 32 warp tile = 2 x 2 accumulator fragments of 16 x 16; per K slice each
// warp runs 2 k-steps of 4 mma_sync: 32 HMMA.1684.F32.TF32 (TF32) or 16 HMMA.16816.F32 (BF16, FP16)
// per warp and slice in the SASS of sm_80 and sm_90, no FFMA.
//
// Pipelining (CUTLASS's "multistage"): GF_TC_STAGES = 3 shared-memory stages filled with cp.async
// (cuda_pipeline_primitives.h: 16-byte cp.async.cg, zero-fill for padding and tile overhang), two
// slices in flight while one is multiplied, one __syncthreads per slice (gf_tc_mainloop). Each stage
// keeps an operand in its global layout (k-contiguous or row-contiguous) so that every 16-byte chunk
// is contiguous at both ends; the wmma fragments read it row- or column-major accordingly. Elements
// that cannot go as aligned 16-byte chunks (odd channel counts, unaligned buffers, a chunk
// overhanging the matrix) are plain shared-memory stores of the same stage. The emulator runs
// cp.async with poisoned destinations, so a missing or too lax wait or barrier gives NaN in the
// tests. TF32 rounding (__float_to_tf32) is applied to the fragments' elements after
// load_matrix_sync (element-wise: no layout assumed).
//
// Shared memory (static, < 48 KiB): 3 stages x (A slice + B slice), each slice 64 x (kBK + pad) or
// kBK x (64 + pad) elements: 26-31 KB per block; the 64 x 68 float accumulator tile of the epilogue
// reuses the same bytes. Rows are padded by 16 bytes so that wmma's ldm is a multiple of 16 bytes
// and every fragment pointer is 32-byte aligned, as load_matrix_sync / store_matrix_sync require.
//
// Registers and occupancy (ptxas, `python -m gpuflow.backend.nvrtc_check`): __launch_bounds__(128,
// GF_TC_MIN_BLOCKS = 4) caps ptxas at 128 registers; every entry point takes 81-128 with no spills:
// 4-5 blocks = 16-20 warps per SM (25-31 %) on sm_80 and sm_90 (shared memory allows 5 on sm_80, 7 on
// sm_90). The hot loop is HMMA, about 280-660 instructions per slice counted statically: the
// implicit-GEMM loaders' address arithmetic (tap decoding, zero-fill predicates) and the entry to
// their scalar fallback, which is a loop of its own (rolled: it writes shared memory, so no register
// array needs constant indices). NVRTC 13.5 emits the FP16 fragment loads as wmma.load...shared
// (LDS) but the TF32 and BF16 ones with generic addresses (LD.E), although every pointer is derived
// from the __shared__ tile; it does not change with explicit per-stage pointers or __isShared hints
// (ldmatrix / mma.sync through inline PTX, behind a path the emulator runs, would be the way). Not
// yet run or tuned on a GPU: fewer live loader registers (a per-slice address table) and larger warp
// tiles are the next steps.
//
// Global loads: coalesced along the contiguous NHWC axis; 128-bit (4 floats / 8 halves) when that
// axis is a multiple of the vector width and the buffer is 16-byte aligned, else scalar with
// per-element predicates (odd channel counts, tiles overhanging M, N or K). Stores: 128-bit when the
// output row length is a multiple of the vector width, else scalar.
//
// Operand loaders. A kernel supplies one per operand: enum { kKContig }, issue(slice) (start copying
// this thread's kRun elements of the current slice into a shared-memory stage: cp.async for 128-bit
// chunks, plain stores for the rest; zero outside the matrix), next() (advance one slice).
// kKContig = 1: the kRun elements are consecutive in K for one row (A) / column (B): thread t owns
//               row t / 2, k offsets (t % 2) * kRun .. + kRun - 1 (2 threads read the slice's kBK).
// kKContig = 0: the kRun elements are consecutive rows (A) / columns (B) of one k: thread t owns
//               k offset t / (64 / kRun), rows/columns (t % (64 / kRun)) * kRun .. (64 / kRun
//               threads read 64 consecutive elements).
// The element-to-lane layout of wmma fragments is never assumed: fragments go to and from shared
// memory only through load_matrix_sync / store_matrix_sync, and their elements are only converted
// one by one (TF32 rounding), never indexed as matrix positions (the emulator randomises the layout).
#ifndef GPUFLOW_WMMA_TILE_CUH
#define GPUFLOW_WMMA_TILE_CUH

#include <mma.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_pipeline_primitives.h>

#include "common.cuh"

#define GF_TC_BM 64
#define GF_TC_BN 64
#define GF_TC_THREADS 128  // 4 warps: 2 x 2 warp tiles of 32 x 32
#define GF_TC_WARP_M 32
#define GF_TC_WARP_N 32
#define GF_TC_MIN_BLOCKS 4 // __launch_bounds__ minimum resident blocks per SM: <= 128 registers
#define GF_TC_STAGES 3     // cp.async pipeline depth (slices in flight + the one being multiplied)

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

template <bool C, class A, class B> struct GfIf { typedef A type; };
template <class A, class B> struct GfIf<false, A, B> { typedef B type; };

// One operand slice in shared memory, laid out as the operand is in global memory so that every
// 128-bit chunk a thread copies is contiguous at both ends (cp.async): KContig = 1: [64][kBK + pad]
// (k contiguous), KContig = 0: [kBK][64 + pad] (rows / columns contiguous). at(mn, k) is the element
// of row m (A) / column n (B) and reduction index k. Sizes are multiples of 128 bytes, row lengths of
// 16 bytes, so every fragment pointer is 32-byte aligned as load_matrix_sync requires.
template <class P, int KContig> struct GfTcSlice;
template <class P> struct GfTcSlice<P, 1> {
    enum { ld = P::kBK + P::kPad };
    typename P::T s[GF_TC_BM][ld];
    __device__ __forceinline__ typename P::T* at(int mn, int k) { return &s[mn][k]; }
    __device__ __forceinline__ const typename P::T* at(int mn, int k) const { return &s[mn][k]; }
};
template <class P> struct GfTcSlice<P, 0> {
    enum { ld = GF_TC_BM + P::kPad };
    typename P::T s[P::kBK][ld];
    __device__ __forceinline__ typename P::T* at(int mn, int k) { return &s[k][mn]; }
    __device__ __forceinline__ const typename P::T* at(int mn, int k) const { return &s[k][mn]; }
};

// The wmma fragments reading those slices: A[m][k] is row-major in a KContig slice, column-major
// otherwise; B[k][n] the other way round.
template <class P, int AKContig, int BKContig> struct GfTcFragments {
    typedef nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, P::kK, typename P::FragT,
                                   typename GfIf<AKContig == 1, nvcuda::wmma::row_major, nvcuda::wmma::col_major>::type>
        A;
    typedef nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, P::kK, typename P::FragT,
                                   typename GfIf<BKContig == 1, nvcuda::wmma::col_major, nvcuda::wmma::row_major>::type>
        B;
    typedef nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, P::kK, float> Acc;
};
template <class P> struct GfTcAcc {
    typedef nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, P::kK, float> type;
};

// Shared memory of one block: GF_TC_STAGES slices of each operand, and the float accumulator tile of
// the epilogue in the same bytes.
template <class P, int AKContig, int BKContig> struct alignas(128) GfTcSmem {
    union {
        struct {
            GfTcSlice<P, AKContig> a[GF_TC_STAGES];
            GfTcSlice<P, BKContig> b[GF_TC_STAGES];
        } op;
        float c[GF_TC_BM][GF_TC_BN + 4];
    };
};

// ---- helpers --------------------------------------------------------------------------------------
template <class P> __device__ __forceinline__ typename P::T gf_tc_zero() { return P::out(0.0f); }

// 16 bytes from p (16-byte aligned) to r (the epilogue's 128-bit stores).
template <class T> __device__ __forceinline__ void gf_ld128(const T* __restrict__ p, T* r) {
    *reinterpret_cast<gf_float4*>(r) = *reinterpret_cast<const gf_float4*>(p);
}

// Starts copying the 16 bytes at src (16-byte aligned, global) to dst (shared): cp.async.cg, or 16 zero
// bytes when !valid (src is then not read, but must still be a valid, aligned address).
template <class T> __device__ __forceinline__ void gf_tc_cp16(T* dst, const T* src, bool valid) {
    __pipeline_memcpy_async(dst, src, 16, valid ? 0 : 16);
}

// Fills out[0, count) with v converted to the output type (degenerate shapes, invalid arguments).
template <class P> __device__ __forceinline__ void gf_tc_fill(typename P::T* out, int count, float v) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int nthreads = blockDim.x * gridDim.x * gridDim.y * gridDim.z;
    for (int e = block * blockDim.x + threadIdx.x; e < count; e = count - e > nthreads ? e + nthreads : count)
        out[e] = P::out(v);
}

// This thread's part of a slice. kKContig = 1: row / column t / 2, k offsets (t % 2) * kRun ...
template <class P> __device__ __forceinline__ int gf_tc_kc_mn() { return threadIdx.x >> 1; }
template <class P> __device__ __forceinline__ int gf_tc_kc_k() { return (threadIdx.x & 1) * P::kRun; }
// ... kKContig = 0: k offset t / (64 / kRun), rows / columns (t % (64 / kRun)) * kRun ...
template <class P> __device__ __forceinline__ int gf_tc_mc_k() { return threadIdx.x / (GF_TC_BN / P::kRun); }
template <class P> __device__ __forceinline__ int gf_tc_mc_col() { return threadIdx.x % (GF_TC_BN / P::kRun) * P::kRun; }

// Every tensor-core kernel runs 128 threads (4 full warps: wmma is warp-collective).
__device__ __forceinline__ void gf_tc_check_block() {
    if (blockDim.x != GF_TC_THREADS || blockDim.y != 1 || blockDim.z != 1) __trap();
}

// acc[i][j] += A(warp rows i) * B(warp columns j) over one K slice in shared memory. The fragments'
// elements are rounded to the fragment precision after the load (TF32: __float_to_tf32; a no-op for
// the 16-bit types), element by element: no layout is assumed.
template <class P, int AKContig, int BKContig>
__device__ __forceinline__ void gf_tc_mma_slice(const GfTcSlice<P, AKContig>& as, const GfTcSlice<P, BKContig>& bs,
                                                typename GfTcAcc<P>::type (&acc)[2][2]) {
    typedef GfTcFragments<P, AKContig, BKContig> F;
    const int warp = threadIdx.x >> 5;
    const int wm = (warp >> 1) * GF_TC_WARP_M, wn = (warp & 1) * GF_TC_WARP_N;
#pragma unroll
    for (int kk = 0; kk < P::kBK; kk += P::kK) {
        typename F::A fa[2];
        typename F::B fb[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            nvcuda::wmma::load_matrix_sync(fa[i], as.at(wm + 16 * i, kk), GfTcSlice<P, AKContig>::ld);
#pragma unroll
            for (int e = 0; e < fa[i].num_elements; ++e) fa[i].x[e] = P::operand(fa[i].x[e]);
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            nvcuda::wmma::load_matrix_sync(fb[j], bs.at(wn + 16 * j, kk), GfTcSlice<P, BKContig>::ld);
#pragma unroll
            for (int e = 0; e < fb[j].num_elements; ++e) fb[j].x[e] = P::operand(fb[j].x[e]);
        }
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j) nvcuda::wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
}

// Runs num_slices K slices of the block tile, accumulating into acc (zeroed here), as a
// GF_TC_STAGES-deep cp.async pipeline with one __syncthreads per slice:
//     issue slices 0 .. S-2 (one commit group each)
//     for t: wait until slice t's group landed; __syncthreads (everyone's copies of slice t are
//            visible, and everyone finished slice t-1, whose stage is free); issue slice t+S-1 into
//            that stage; commit; multiply slice t
// Elements the loaders cannot copy as 128-bit chunks (odd channel counts, unaligned buffers) are
// stored to the stage directly, visible after the same barrier. Every thread of the block calls it;
// num_slices is block-uniform. Ends with a barrier: the epilogue may reuse the stages.
template <class P, class ALoader, class BLoader>
__device__ __forceinline__ void gf_tc_mainloop(ALoader& al, BLoader& bl, int num_slices,
                                               GfTcSmem<P, ALoader::kKContig, BLoader::kKContig>& sm,
                                               typename GfTcAcc<P>::type (&acc)[2][2]) {
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
    if (num_slices <= 0) return;
#pragma unroll
    for (int s = 0; s < GF_TC_STAGES - 1; ++s) {
        if (s < num_slices) {
            if (s > 0) {
                al.next();
                bl.next();
            }
            al.issue(sm.op.a[s]);
            bl.issue(sm.op.b[s]);
        }
        __pipeline_commit();
    }
    for (int t = 0; t < num_slices; ++t) {
        __pipeline_wait_prior(GF_TC_STAGES - 2);
        __syncthreads();
        const int ahead = t + GF_TC_STAGES - 1;
        if (ahead < num_slices) {
            al.next();
            bl.next();
            al.issue(sm.op.a[ahead % GF_TC_STAGES]);
            bl.issue(sm.op.b[ahead % GF_TC_STAGES]);
        }
        __pipeline_commit();
        gf_tc_mma_slice<P>(sm.op.a[t % GF_TC_STAGES], sm.op.b[t % GF_TC_STAGES], acc);
    }
    __syncthreads();
}

// Epilogue: the accumulators go through shared memory (their register layout is unspecified), then
// out[row * ldc + col] = ep(acc, col) converted to OutT (P::T, or float for split-K partials) for
// row < M, col < N; consecutive threads write consecutive 128-bit chunks of a row. Every thread
// calls it (it has __syncthreads); it ends with a barrier, so the next tile may restage shared memory.
template <class P, class OutT, class Epilogue>
__device__ __forceinline__ void gf_tc_store_tile(float (*c)[GF_TC_BN + 4], const typename GfTcAcc<P>::type (&acc)[2][2],
                                                 OutT* __restrict__ out, int ldc, int M, int N, int m0, int n0,
                                                 const Epilogue& ep) {
    enum { kOutVec = 16 / sizeof(OutT) };  // elements per 128-bit store
    const int warp = threadIdx.x >> 5;
    const int wm = (warp >> 1) * GF_TC_WARP_M, wn = (warp & 1) * GF_TC_WARP_N;
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j)
            nvcuda::wmma::store_matrix_sync(&c[wm + 16 * i][wn + 16 * j], acc[i][j], GF_TC_BN + 4,
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
            for (int q = 0; q < kOutVec; ++q) v[q] = gf_tc_from_float<OutT>(ep(c[r][c0 + q], col + q));
            gf_ld128(v, dst);
        } else {
            for (int q = 0; q < kOutVec && col + q < N; ++q) dst[q] = gf_tc_from_float<OutT>(ep(c[r][c0 + q], col + q));
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
    template <class Slice> __device__ __forceinline__ void issue(Slice& s) const {
        T* dst = s.at(gf_tc_kc_mn<P>(), gf_tc_kc_k<P>());  // kRun contiguous elements
        int ii = i, jj = j, cc = c, b = base;
        if (vec) {
#pragma unroll
            for (int q = 0; q < P::kRun; q += P::kVec) {
                gf_tc_cp16(dst + q, b >= 0 ? p + b + cc : p, b >= 0);
                cc += P::kVec;
                if (cc == CH) {
                    cc = 0;
                    if (++jj == KW) { jj = 0; ++ii; }
                    b = tap(ii, jj);
                }
            }
            return;
        }
#pragma unroll 1  // the scalar fallback (odd CH, unaligned p) stays a loop: it writes shared memory
        for (int q = 0; q < P::kRun; ++q) {
            dst[q] = b >= 0 ? p[b + cc] : gf_tc_zero<P>();
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
    template <class Slice> __device__ __forceinline__ void issue(Slice& s) const {
        T* dst = s.at(gf_tc_mc_col<P>(), gf_tc_mc_k<P>());  // kRun contiguous elements
        const T* row = p + k * ld;
#pragma unroll
        for (int q = 0; q < P::kRun; q += P::kVec) {
            const int col = col0 + q;
            if (vec && (k >= k_end || col + P::kVec <= ncols)) {
                gf_tc_cp16(dst + q, k < k_end ? row + col : p, k < k_end);
            } else {
#pragma unroll
                for (int e = 0; e < P::kVec; ++e)
                    dst[q + e] = (k < k_end && col + e < ncols) ? row[col + e] : gf_tc_zero<P>();
            }
        }
    }
    __device__ __forceinline__ void next() { k += P::kBK; }
};

#endif  // GPUFLOW_WMMA_TILE_CUH
