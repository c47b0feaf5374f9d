// conv2d_tc.cu — 2-D convolution on tensor cores (nvcuda::wmma): forward, data gradient and filter
// gradient as implicit GEMM, in TF32 (float32 tensors), BF16 and FP16 (16-bit tensors), all with
// float32 accumulation. NHWC activations, (KH, KW, C, F) filters, C-contiguous buffers.
//
//   entry point (P = tf32 | bf16 | f16)  GEMM rows (M)      GEMM cols (N)   reduction (K)
//   conv2d_fwd_P                         N*OH*OW  (n,oh,ow) F               KH*KW*C  (i,j,c)
//   conv2d_bwd_data_P                    N*H*W    (n,h,w)   C               KH*KW*F  (i,j,f)
//   conv2d_bwd_filter_P                  KH*KW*C  (i,j,c)   F               N*OH*OW  (n,oh,ow)
//   conv2d_bwd_filter_splitk_P           as above, K split over blockIdx.z into float partials, then
//   splitk_reduce_bf16 / _f16            sums them into dw (TF32: conv2d.cu's splitk_reduce_f32).
//
// The GEMM views are conv2d.cu's (the FP32 SIMT kernels, which stay for sm < 80, shapes that do not
// suit these tiles and TF32 turned off); the main loop, tiles, shared memory and precision rules
// are in wmma_tile.cuh: 64 x 64 x 16 (TF32) / 32 (BF16, FP16) block tile, 128 threads (4 warps of
// 32 x 32), 16 x 16 wmma fragments, float32 accumulators, a 3-stage cp.async pipeline in 26-31 KB of
// static shared memory, <= 128 registers (4-5 blocks per SM, 25-31 % occupancy), no spills.
//
// Launch (all): block (128, 1, 1) (anything else traps); grid (ceil(Ncols / 64), ceil(M / 64), 1).
// The forward and data-gradient kernels loop over row tiles with stride gridDim.y and column tiles
// with stride gridDim.x, so a grid capped at gridDim.y = 65535 (or any smaller grid) is correct; the
// filter gradient (M = KH*KW*C, small) needs the full grid: one tile per block, spare blocks exit.
// Split-K: grid (ceil(F/64), ceil(KH*KW*C/64), splits), a float workspace of splits*KH*KW*C*F.
// Integer indices are int32: every tensor must have fewer than 2^31 elements (the wrapper checks).
#include "wmma_tile.cuh"

// ---- taps: where the tensor element of filter tap (i, j) for this thread's GEMM row starts -------
// Forward: x[n, oh*SH - PT + i*DH, ow*SW - PL + j*DW, :] for output pixel row = (n, oh, ow).
struct ConvFwdTap {
    int H, W, C, KH, DH, DW;
    int nH, ih0, iw0;
    bool ok;  // the row is < M
    __device__ __forceinline__ ConvFwdTap(int row, int M, int H_, int W_, int C_, int KH_, int OH, int OW, int SH,
                                          int SW, int DH_, int DW_, int PT, int PL)
        : H(H_), W(W_), C(C_), KH(KH_), DH(DH_), DW(DW_) {
        ok = row < M;
        const int r = ok ? row : 0;
        const int ow = r % OW, t = r / OW;
        const int oh = t % OH, n = t / OH;
        nH = n * H;
        ih0 = oh * SH - PT;
        iw0 = ow * SW - PL;
    }
    __device__ __forceinline__ int operator()(int i, int j) const {
        const int ih = ih0 + i * DH, iw = iw0 + j * DW;
        return (ok && i < KH && ih >= 0 && ih < H && iw >= 0 && iw < W) ? ((nH + ih) * W + iw) * C : -1;
    }
};

// Data gradient: dy[n, oh, ow, :] with oh = (h + PT - i*DH) / SH, ow = (w + PL - j*DW) / SW when both
// quotients are exact and in range, for input pixel row = (n, h, w); -1 otherwise.
struct ConvBwdDataTap {
    int F, KH, OH, OW, SH, SW, DH, DW;
    int nOH, hb, wb;  // n*OH and the padded coordinates h+PT, w+PL (hb hugely negative: row past M)
    __device__ __forceinline__ ConvBwdDataTap(int row, int M, int H, int W, int F_, int KH_, int OH_, int OW_,
                                              int SH_, int SW_, int DH_, int DW_, int PT, int PL)
        : F(F_), KH(KH_), OH(OH_), OW(OW_), SH(SH_), SW(SW_), DH(DH_), DW(DW_) {
        const bool ok = row < M;
        const int r = ok ? row : 0;
        const int w = r % W, t = r / W;
        const int h = t % H, n = t / H;
        nOH = n * OH;
        hb = ok ? h + PT : -0x40000000;
        wb = w + PL;
    }
    __device__ __forceinline__ int operator()(int i, int j) const {
        const int ohn = hb - i * DH, own = wb - j * DW;
        if (i >= KH || ohn < 0 || own < 0) return -1;
        const int oh = ohn / SH, ow = own / SW;
        if (oh * SH != ohn || ow * SW != own || oh >= OH || ow >= OW) return -1;
        return ((nOH + oh) * OW + ow) * F;
    }
};

// Data gradient's B[k][c] = w[i, j, c, f], k = (i*KW + j)*F + f: tap t = i*KW + j (a run with KW = 1)
// of input channel col = c: w[t, c, :].
struct ConvFilterTap {
    int C, F, KK, col;
    __device__ __forceinline__ int operator()(int t, int) const {
        return (t < KK && col < C) ? (t * C + col) * F : -1;
    }
};

// Filter gradient's A[r][k] = x[n, oh*SH - PT + i*DH, ow*SW - PL + j*DW, c], r = (i*KW + j)*C + c,
// k = (n*OH + oh)*OW + ow in [k_begin, k_end). kKContig = 0: this thread's k and kRun consecutive rows
// (channels of one or more taps; 128-bit chunks when C is a multiple of the vector width).
template <class P>
struct ConvBwdFilterA {
    enum { kKContig = 0 };
    typedef typename P::T T;
    const T* __restrict__ x;
    int H, W, C, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL;
    int k, k_end, n, oh, ow;
    int i0, j0, c0;  // the first of this thread's rows, decoded (i0 >= KH: past the last row)
    bool vec;

    __device__ __forceinline__ ConvBwdFilterA(const T* __restrict__ x_, int m0, int k_begin, int k_end_, int H_,
                                              int W_, int C_, int KH_, int KW_, int OH_, int OW_, int SH_, int SW_,
                                              int DH_, int DW_, int PT_, int PL_)
        : x(x_), H(H_), W(W_), C(C_), KH(KH_), KW(KW_), OH(OH_), OW(OW_), SH(SH_), SW(SW_), DH(DH_), DW(DW_),
          PT(PT_), PL(PL_), k_end(k_end_) {
        k = k_begin + gf_tc_mc_k<P>();
        ow = k % OW;
        const int t = k / OW;
        oh = t % OH;
        n = t / OH;
        const int r0 = m0 + gf_tc_mc_col<P>();
        c0 = r0 % C;
        const int ij = r0 / C;
        j0 = ij % KW;
        i0 = ij / KW;
        vec = (C % P::kVec) == 0 && gf_aligned16(x);
    }
    __device__ __forceinline__ int at(int hb, int wb, int nH, int i, int j) const {
        const int ih = hb + i * DH, iw = wb + j * DW;
        return (i < KH && ih >= 0 && ih < H && iw >= 0 && iw < W) ? ((nH + ih) * W + iw) * C : -1;
    }
    template <class Slice> __device__ __forceinline__ void issue(Slice& s) const {
        T* dst = s.at(gf_tc_mc_col<P>(), gf_tc_mc_k<P>());  // kRun contiguous elements
        if (k >= k_end) {
#pragma unroll
            for (int q = 0; q < P::kRun; ++q) dst[q] = gf_tc_zero<P>();
            return;
        }
        const int hb = oh * SH - PT, wb = ow * SW - PL, nH = n * H;
        int ii = i0, jj = j0, cc = c0;
        int b = at(hb, wb, nH, ii, jj);
        if (vec) {  // C % kVec == 0, x aligned: chunks of kVec channels of one tap
#pragma unroll
            for (int q = 0; q < P::kRun; q += P::kVec) {
                gf_tc_cp16(dst + q, b >= 0 ? x + b + cc : x, b >= 0);
                cc += P::kVec;
                if (cc == C) {
                    cc = 0;
                    if (++jj == KW) { jj = 0; ++ii; }
                    b = at(hb, wb, nH, ii, jj);
                }
            }
            return;
        }
#pragma unroll 1  // the scalar fallback (odd C, unaligned x) stays a loop: it writes shared memory
        for (int q = 0; q < P::kRun; ++q) {
            dst[q] = b >= 0 ? x[b + cc] : gf_tc_zero<P>();
            if (++cc == C) {
                cc = 0;
                if (++jj == KW) { jj = 0; ++ii; }
                b = at(hb, wb, nH, ii, jj);
            }
        }
    }
    __device__ __forceinline__ void next() {
        k += P::kBK;
        ow += P::kBK;
        while (ow >= OW) {
            ow -= OW;
            if (++oh == OH) { oh = 0; ++n; }
        }
    }
};

// ---- kernels (one template per GEMM view; thin extern "C" entry points below) -----------------------
// y[n,oh,ow,f] = sum_{i,j,c} x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c] * w[i,j,c,f] (zero outside x).
template <class P>
__device__ __forceinline__ void conv2d_fwd_tc(const typename P::T* __restrict__ x, const typename P::T* __restrict__ w,
                                              typename P::T* __restrict__ y, int N, int H, int W, int C, int F, int KH,
                                              int KW, int OH, int OW, int SH, int SW, int DH, int DW, int PT, int PL) {
    __shared__ GfTcSmem<P, 1, 0> sm;  // A: x (channels contiguous), B: w (filters contiguous)
    gf_tc_check_block();
    const int M = N * OH * OW, K = KH * KW * C;
    if (M <= 0 || F <= 0) return;
    if (K <= 0) { gf_tc_fill<P>(y, M * F, 0.0f); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_tc_fill<P>(y, M * F, GF_QNAN); return; }
    const int tiles_m = gf_cdiv(M, GF_TC_BM), tiles_n = gf_cdiv(F, GF_TC_BN);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_TC_BM, n0 = tn * GF_TC_BN;
            typename GfTcAcc<P>::type acc[2][2];
            const ConvFwdTap tap(m0 + (threadIdx.x >> 1), M, H, W, C, KH, OH, OW, SH, SW, DH, DW, PT, PL);
            GfTcTapRun<P, ConvFwdTap> al(x, tap, C, KW);
            GfTcRowMajorB<P> bl(w, F, F, 0, K, n0);
            gf_tc_mainloop<P>(al, bl, gf_cdiv(K, P::kBK), sm, acc);
            gf_tc_store_tile<P>(sm.c, acc, y, F, M, F, m0, n0, GfTcIdentity());
        }
    }
}

// dx[n,h,w,c] = sum over (oh,ow,i,j) with h = oh*SH-PT+i*DH, w = ow*SW-PL+j*DW of dy[n,oh,ow,f] * w[i,j,c,f];
// every dx element is written (zero where no output position touches it).
template <class P>
__device__ __forceinline__ void conv2d_bwd_data_tc(const typename P::T* __restrict__ dy,
                                                   const typename P::T* __restrict__ w, typename P::T* __restrict__ dx,
                                                   int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW,
                                                   int SH, int SW, int DH, int DW, int PT, int PL) {
    __shared__ GfTcSmem<P, 1, 1> sm;  // A: dy, B: w, both with the filters (K) contiguous
    gf_tc_check_block();
    const int M = N * H * W, K = KH * KW * F;
    if (M <= 0 || C <= 0) return;
    if (K <= 0 || OH <= 0 || OW <= 0) { gf_tc_fill<P>(dx, M * C, 0.0f); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_tc_fill<P>(dx, M * C, GF_QNAN); return; }
    const int tiles_m = gf_cdiv(M, GF_TC_BM), tiles_n = gf_cdiv(C, GF_TC_BN);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_TC_BM, n0 = tn * GF_TC_BN;
            typename GfTcAcc<P>::type acc[2][2];
            const ConvBwdDataTap atap(m0 + (threadIdx.x >> 1), M, H, W, F, KH, OH, OW, SH, SW, DH, DW, PT, PL);
            GfTcTapRun<P, ConvBwdDataTap> al(dy, atap, F, KW);
            ConvFilterTap btap;
            btap.C = C;
            btap.F = F;
            btap.KK = KH * KW;
            btap.col = n0 + (threadIdx.x >> 1);
            GfTcTapRun<P, ConvFilterTap> bl(w, btap, F, 1);
            gf_tc_mainloop<P>(al, bl, gf_cdiv(K, P::kBK), sm, acc);
            gf_tc_store_tile<P>(sm.c, acc, dx, C, M, C, m0, n0, GfTcIdentity());
        }
    }
}

// One filter-gradient tile of sum_{k in [k_begin, k_end)} A[r][k] * dy[k][f] -> out (ld F): dw itself
// (OutT = P::T) or a split's float partials.
template <class P, class OutT>
__device__ __forceinline__ void conv2d_bwd_filter_tile(GfTcSmem<P, 0, 0>& sm, const typename P::T* __restrict__ x,
                                                       const typename P::T* __restrict__ dy, OutT* __restrict__ out,
                                                       int m0, int n0, int k_begin, int k_end, int H, int W, int C,
                                                       int F, int KH, int KW, int OH, int OW, int SH, int SW, int DH,
                                                       int DW, int PT, int PL) {
    const int M = KH * KW * C;
    typename GfTcAcc<P>::type acc[2][2];
    ConvBwdFilterA<P> al(x, m0, k_begin, k_end, H, W, C, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
    GfTcRowMajorB<P> bl(dy, F, F, k_begin, k_end, n0);
    gf_tc_mainloop<P>(al, bl, gf_cdiv(k_end - k_begin, P::kBK), sm, acc);
    gf_tc_store_tile<P>(sm.c, acc, out, F, M, F, m0, n0, GfTcIdentity());
}

// dw[i,j,c,f] = sum_{n,oh,ow} x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c] * dy[n,oh,ow,f]. The whole K =
// N*OH*OW in one block: only ceil(KH*KW*C / 64) * ceil(F / 64) blocks; for a long K, the split-K
// variant below fills the GPU.
template <class P>
__device__ __forceinline__ void conv2d_bwd_filter_tc(const typename P::T* __restrict__ x,
                                                     const typename P::T* __restrict__ dy,
                                                     typename P::T* __restrict__ dw, int N, int H, int W, int C, int F,
                                                     int KH, int KW, int OH, int OW, int SH, int SW, int DH, int DW,
                                                     int PT, int PL) {
    __shared__ GfTcSmem<P, 0, 0> sm;  // A: x (channels = rows contiguous), B: dy (filters contiguous)
    gf_tc_check_block();
    const int M = KH * KW * C, K = N * OH * OW;
    if (M <= 0 || F <= 0) return;
    if (K <= 0) { gf_tc_fill<P>(dw, M * F, 0.0f); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_tc_fill<P>(dw, M * F, GF_QNAN); return; }
    const int m0 = blockIdx.y * GF_TC_BM, n0 = blockIdx.x * GF_TC_BN;
    if (m0 >= M || n0 >= F) return;  // block-uniform
    conv2d_bwd_filter_tile<P>(sm, x, dy, dw, m0, n0, 0, K, H, W, C, F, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
}

// Split-K filter gradient: split s = blockIdx.z reduces k in [s*k_chunk, min(K, (s+1)*k_chunk)) into
// float partials ws[s, :, :] (KH*KW*C x F), s < splits = ceil(K / k_chunk); then splitk_reduce_P
// (or conv2d.cu's splitk_reduce_f32 for TF32) sums them in split order (deterministic) into dw.
// Launch: block (128,1,1), grid (ceil(F/64), ceil(KH*KW*C/64), splits); any k_chunk > 0 is correct
// (a multiple of kBK wastes no slice).
template <class P>
__device__ __forceinline__ void conv2d_bwd_filter_splitk_tc(const typename P::T* __restrict__ x,
                                                            const typename P::T* __restrict__ dy,
                                                            float* __restrict__ ws, int N, int H, int W, int C, int F,
                                                            int KH, int KW, int OH, int OW, int SH, int SW, int DH,
                                                            int DW, int PT, int PL, int k_chunk) {
    __shared__ GfTcSmem<P, 0, 0> sm;  // A: x (channels = rows contiguous), B: dy (filters contiguous)
    gf_tc_check_block();
    const int M = KH * KW * C, K = N * OH * OW;
    if (M <= 0 || F <= 0 || K <= 0 || k_chunk <= 0) return;
    const int splits = gf_cdiv(K, k_chunk);
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_fill(ws, splits * M * F, GF_QNAN); return; }
    const int m0 = blockIdx.y * GF_TC_BM, n0 = blockIdx.x * GF_TC_BN, s = blockIdx.z;
    if (m0 >= M || n0 >= F || s >= splits) return;  // block-uniform
    const int k_begin = s * k_chunk, k_end = gf_min(K, k_begin + k_chunk);
    conv2d_bwd_filter_tile<P>(sm, x, dy, ws + s * (M * F), m0, n0, k_begin, k_end, H, W, C, F, KH, KW, OH, OW, SH,
                              SW, DH, DW, PT, PL);
}

// out[e] = sum_{s < splits} ws[s * size + e] in split order, rounded once to out's 16-bit type.
// One thread per element, grid-stride; block 256, grid ceil(size / 256). Memory-bound.
template <class T>
__device__ __forceinline__ void splitk_reduce_tc(const float* __restrict__ ws, T* __restrict__ out, int splits,
                                                 int size) {
    GF_GRID_STRIDE_LOOP(e, size) {
        float s = 0.0f;
        const float* p = ws + e;
        for (int z = 0; z < splits; ++z, p += size) s += *p;
        out[e] = gf_tc_from_float<T>(s);
    }
}

// ---- entry points ----------------------------------------------------------------------------------
// The shape arguments of every entry point, as conv2d.cu's.
#define GF_CONV_TC_PARAMS \
    int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW, int SH, int SW, int DH, int DW, int PT, int PL
#define GF_CONV_TC_ARGS N, H, W, C, F, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL

extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_fwd_tf32(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                GF_CONV_TC_PARAMS) {
    conv2d_fwd_tc<GfTf32>(x, w, y, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_fwd_bf16(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                __nv_bfloat16* __restrict__ y, GF_CONV_TC_PARAMS) {
    conv2d_fwd_tc<GfBf16>(x, w, y, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_fwd_f16(const __half* __restrict__ x, const __half* __restrict__ w, __half* __restrict__ y,
               GF_CONV_TC_PARAMS) {
    conv2d_fwd_tc<GfF16>(x, w, y, GF_CONV_TC_ARGS);
}

extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_data_tf32(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,
                     GF_CONV_TC_PARAMS) {
    conv2d_bwd_data_tc<GfTf32>(dy, w, dx, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_data_bf16(const __nv_bfloat16* __restrict__ dy, const __nv_bfloat16* __restrict__ w,
                     __nv_bfloat16* __restrict__ dx, GF_CONV_TC_PARAMS) {
    conv2d_bwd_data_tc<GfBf16>(dy, w, dx, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_data_f16(const __half* __restrict__ dy, const __half* __restrict__ w, __half* __restrict__ dx,
                    GF_CONV_TC_PARAMS) {
    conv2d_bwd_data_tc<GfF16>(dy, w, dx, GF_CONV_TC_ARGS);
}

extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_tf32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dw,
                       GF_CONV_TC_PARAMS) {
    conv2d_bwd_filter_tc<GfTf32>(x, dy, dw, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_bf16(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ dy,
                       __nv_bfloat16* __restrict__ dw, GF_CONV_TC_PARAMS) {
    conv2d_bwd_filter_tc<GfBf16>(x, dy, dw, GF_CONV_TC_ARGS);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_f16(const __half* __restrict__ x, const __half* __restrict__ dy, __half* __restrict__ dw,
                      GF_CONV_TC_PARAMS) {
    conv2d_bwd_filter_tc<GfF16>(x, dy, dw, GF_CONV_TC_ARGS);
}

extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_splitk_tf32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ ws,
                              GF_CONV_TC_PARAMS, int k_chunk) {
    conv2d_bwd_filter_splitk_tc<GfTf32>(x, dy, ws, GF_CONV_TC_ARGS, k_chunk);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_splitk_bf16(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ dy,
                              float* __restrict__ ws, GF_CONV_TC_PARAMS, int k_chunk) {
    conv2d_bwd_filter_splitk_tc<GfBf16>(x, dy, ws, GF_CONV_TC_ARGS, k_chunk);
}
extern "C" __global__ void __launch_bounds__(GF_TC_THREADS, GF_TC_MIN_BLOCKS)
conv2d_bwd_filter_splitk_f16(const __half* __restrict__ x, const __half* __restrict__ dy, float* __restrict__ ws,
                             GF_CONV_TC_PARAMS, int k_chunk) {
    conv2d_bwd_filter_splitk_tc<GfF16>(x, dy, ws, GF_CONV_TC_ARGS, k_chunk);
}

extern "C" __global__ void __launch_bounds__(256)
splitk_reduce_bf16(const float* __restrict__ ws, __nv_bfloat16* __restrict__ out, int splits, int size) {
    splitk_reduce_tc(ws, out, splits, size);
}
extern "C" __global__ void __launch_bounds__(256)
splitk_reduce_f16(const float* __restrict__ ws, __half* __restrict__ out, int splits, int size) {
    splitk_reduce_tc(ws, out, splits, size);
}
