// conv2d.cu — 2-D convolution (NHWC activations, (KH, KW, C, F) filters, float32) as implicit GEMM.
//
// All three kernels run the shared-memory tiled SGEMM of gemm_tile.cuh on a GEMM view of the
// convolution; "implicit" means the im2col matrix is never materialised: the operand loaders
// compute, for each element of a 64 x 16 tile slice, the input pixel it stands for (zero where it
// falls in the padding or, for the data gradient, between strided output positions).
//
//   kernel                      GEMM rows (M)      GEMM cols (N)   reduction (K)
//   conv2d_fwd_f32              N*OH*OW  (n,oh,ow) F               KH*KW*C  (i,j,c)
//   conv2d_bwd_data_f32         N*H*W    (n,h,w)   C               KH*KW*F  (i,j,f)
//   conv2d_bwd_filter_f32       KH*KW*C  (i,j,c)   F               N*OH*OW  (n,oh,ow)
//   conv2d_bwd_filter_splitk_f32  as above, K split over blockIdx.z into a workspace, then
//   splitk_reduce_f32           sums the split-K partials (deterministic; no atomics).
//
// Tile / threads / occupancy (all GEMM kernels here): 64 x 64 output tile per block, K in 16-wide
// slices, 256 threads (8 warps) each holding a 4 x 4 register micro-tile, 17,408 bytes of static
// shared memory (double-buffered A and B slices), __launch_bounds__(256, 3): <= 80 registers, so
// 3 blocks = 24 warps per SM (37.5 % occupancy) on sm_80 / sm_90, register-limited, no spills; the
// exact counts are in the ptxas table of `python -m gpuflow.backend.nvrtc_check`.
//
// Launch (all GEMM kernels): block = (256, 1, 1) (blockDim.x must be 256); grid =
// (ceil(Ncols / 64), ceil(M / 64), splits). conv2d_fwd_f32 and conv2d_bwd_data_f32, whose M =
// N*OH*OW or N*H*W can pass 65535 * 64 rows, loop over row tiles with stride gridDim.y (and column
// tiles with stride gridDim.x), so a grid capped at gridDim.y = 65535 is still correct. The filter
// gradient kernels (M = KH*KW*C, small) need the full grid: one tile per block, spare blocks exit.
//
// Memory access: operand loads are coalesced along the contiguous NHWC axis (channels for x, filters
// for w and dy); when that axis length is a multiple of 4 and the buffer is 16-byte aligned the loads
// are 128-bit, otherwise scalar with per-element predicates (odd channel counts such as C = 3, tiles
// that overhang M, N or K). Output stores are 128-bit when F (or C) % 4 == 0.
//
// Integer indices are int32: every tensor must have fewer than 2^31 elements.
#include "common.cuh"
#include "gemm_tile.cuh"

// ---------------------------------------------------------------------------------------------
// Forward. A[m][k] = x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c], m = (n,oh,ow), k = (i*KW+j)*C + c.
// kKContig = 1: thread t owns output pixel m0 + t/4 and 4 consecutive k = 4 consecutive channels of
// one filter tap (i,j) (or a tap boundary, handled by the carry in the scalar path).
struct ConvFwdA {
    enum { kKContig = 1 };
    const float* __restrict__ x;
    int H, W, C, KH, KW, DH, DW;
    int nH, ih0, iw0;  // this thread's output pixel: batch row offset n*H and window origin
    bool row_ok, vec;
    int i, j, c;       // current k = (i*KW + j)*C + c
    int base;          // element offset of x[n, ih, iw, 0] for tap (i,j), or -1 when out of range

    // GEMM row m = (n, oh, ow) in NHWC order (conv2d_fwd_f32).
    __device__ __forceinline__ ConvFwdA(const float* __restrict__ x_, int M, int m0, int H_, int W_,
                                        int C_, int KH_, int KW_, int OH, int OW, int SH, int SW, int DH_,
                                        int DW_, int PT, int PL)
        : x(x_), H(H_), W(W_), C(C_), KH(KH_), KW(KW_), DH(DH_), DW(DW_) {
        const int row = m0 + gf_kc_row();
        const int r = row < M ? row : 0;
        const int t = r / OW;
        init(row < M, t / OH, t % OH, r % OW, SH, SW, PT, PL);
    }
    // This thread's row given as the output pixel (n, oh, ow) (conv2d_maxpool_fwd_f32's window order).
    __device__ __forceinline__ ConvFwdA(const float* __restrict__ x_, bool row_ok_, int n, int oh, int ow, int H_,
                                        int W_, int C_, int KH_, int KW_, int SH, int SW, int DH_, int DW_, int PT,
                                        int PL)
        : x(x_), H(H_), W(W_), C(C_), KH(KH_), KW(KW_), DH(DH_), DW(DW_) {
        init(row_ok_, n, oh, ow, SH, SW, PT, PL);
    }
    __device__ __forceinline__ void init(bool row_ok_, int n, int oh, int ow, int SH, int SW, int PT, int PL) {
        row_ok = row_ok_;
        nH = n * H;
        ih0 = oh * SH - PT;
        iw0 = ow * SW - PL;
        const int k0 = gf_kc_k();
        c = k0 % C;
        const int ij = k0 / C;
        j = ij % KW;
        i = ij / KW;
        vec = (C & 3) == 0 && gf_aligned16(x);
        base = tap(i, j);
    }
    __device__ __forceinline__ int tap(int ii, int jj) const {
        const int ih = ih0 + ii * DH, iw = iw0 + jj * DW;
        return (row_ok && ii < KH && ih >= 0 && ih < H && iw >= 0 && iw < W) ? ((nH + ih) * W + iw) * C : -1;
    }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (vec) {  // C % 4 == 0 and k % 4 == 0: the 4 channels share one tap and one 16-byte vector
            if (base >= 0) {
                const gf_float4 v = *reinterpret_cast<const gf_float4*>(x + base + c);
                r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            } else {
                r[0] = r[1] = r[2] = r[3] = 0.0f;
            }
            return;
        }
        int ii = i, jj = j, cc = c, b = base;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            r[q] = b >= 0 ? x[b + cc] : 0.0f;
            if (++cc == C) {
                cc = 0;
                if (++jj == KW) { jj = 0; ++ii; }
                b = tap(ii, jj);
            }
        }
    }
    __device__ __forceinline__ void next() {
        c += GF_BK;
        if (c >= C) {
            do {
                c -= C;
                if (++j == KW) { j = 0; ++i; }
            } while (c >= C);
            base = tap(i, j);
        }
    }
};

// y[n,oh,ow,f] = sum_{i,j,c} x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c] * w[i,j,c,f] (zero outside x),
// then + b[f] if has_bias and ReLU if relu, in the epilogue (b is read only if has_bias).
// Tile 64 (output pixels) x 64 (filters) x 16 (taps*channels); 256 threads; 4x4 micro-tile.
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, GF_GEMM_MIN_BLOCKS)
conv2d_fwd_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
               float* __restrict__ y, int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW, int SH,
               int SW, int DH, int DW, int PT, int PL, int has_bias, int relu) {
    __shared__ GfGemmSmem sm;
    const int M = N * OH * OW, K = KH * KW * C;
    GfBiasReluEpilogue ep;
    ep.b = b;
    ep.has_bias = has_bias;
    ep.relu = relu;
    if (M <= 0 || F <= 0) return;
    if (K <= 0) { gf_fill_epilogue(y, M * F, F, ep); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_fill(y, M * F, GF_QNAN); return; }
    const int tiles_m = gf_cdiv(M, GF_BM), tiles_n = gf_cdiv(F, GF_BN);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_BM, n0 = tn * GF_BN;
            float acc[4][4];
            gf_zero_acc(acc);
            ConvFwdA al(x, M, m0, H, W, C, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
            GfRowMajorB bl(w, F, F, 0, K, n0);
            gf_gemm_mainloop(al, bl, gf_cdiv(K, GF_BK), sm, acc);
            gf_store_tile(y, F, M, F, m0, n0, acc, ep);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Convolution + bias + ReLU + non-overlapping max pooling, one kernel: Keras's Conv2D followed by
// MaxPooling2D(pool_size=(PH, PW)) (stride = window, VALID), the conv output never written to memory.
// y[n,ph,pw,f] = max over the window (PH x PW) of z = relu?(conv(x, w) + b) at conv pixels
// (ph*PH + di, pw*PW + dj); argmax[n,ph,pw,f] = di*PW + dj of the FIRST maximum in row-major window order
// (max_pool2d_fwd_f32's format and tie rule, so max_pool2d_bwd_f32 routes the gradient).
// The GEMM rows are taken window by window: a 64-row tile holds WPT = 64 / (PH*PW) whole windows (rows
// past WPT*PH*PW are idle), so every window's PH*PW conv outputs end in one block. After the main loop
// the block writes its 64 x 64 tile (epilogue applied) into the shared memory the main loop used
// (64 x 68 floats = sizeof(GfGemmSmem)) and reduces each (window, filter) pair from there, writing y and
// argmax coalesced along F. Requires PH*PW <= 64 (the wrapper composes the separate kernels otherwise).
// Launch as conv2d_fwd_f32 with M = N*POH*POW windows in tiles of WPT: grid (ceil(F/64),
// min(ceil(M / WPT), 65535), 1); tiles are grid-strided.
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, GF_GEMM_MIN_BLOCKS)
conv2d_maxpool_fwd_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                       float* __restrict__ y, int* __restrict__ argmax, int N, int H, int W, int C, int F, int KH,
                       int KW, int POH, int POW, int SH, int SW, int DH, int DW, int PT, int PL, int PH, int PW,
                       int has_bias, int relu) {
    __shared__ GfGemmSmem sm;
    const int P = PH * PW, windows = N * POH * POW, K = KH * KW * C;
    if (windows <= 0 || F <= 0 || P <= 0) return;
    if (P > GF_BM || K <= 0 || SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) {  // wrapper bug: NaN, as gf_fill
        gf_fill(y, windows * F, GF_QNAN);
        return;
    }
    GfBiasReluEpilogue ep;
    ep.b = b;
    ep.has_bias = has_bias;
    ep.relu = relu;
    const int wpt = GF_BM / P;  // whole windows per tile
    const int tiles_m = gf_cdiv(windows, wpt), tiles_n = gf_cdiv(F, GF_BN);
    float (*tile)[GF_BN + GF_PAD] = reinterpret_cast<float (*)[GF_BN + GF_PAD]>(&sm);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int w0 = tm * wpt, n0 = tn * GF_BN;
            // this thread's A row: window w0 + r / P, element e = r % P = di*PW + dj of it
            const int r = gf_kc_row(), win = w0 + r / P, e = r % P;
            const bool row_ok = r < wpt * P && win < windows;
            const int wv = row_ok ? win : 0;
            const int pw = wv % POW, t = wv / POW;
            float acc[4][4];
            gf_zero_acc(acc);
            ConvFwdA al(x, row_ok, t / POH, (t % POH) * PH + e / PW, pw * PW + e % PW, H, W, C, KH, KW, SH, SW, DH,
                        DW, PT, PL);
            GfRowMajorB bl(w, F, F, 0, K, n0);
            gf_gemm_mainloop(al, bl, gf_cdiv(K, GF_BK), sm, acc);  // ends with __syncthreads: sm is free
            const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
#pragma unroll
            for (int p = 0; p < 4; ++p)
#pragma unroll
                for (int q = 0; q < 4; ++q) {
                    const int col = n0 + tx * 4 + q;
                    tile[ty * 4 + p][tx * 4 + q] = col < F ? ep(acc[p][q], col) : 0.0f;
                }
            __syncthreads();
            const int nwin = gf_min(wpt, windows - w0);
            for (int o = threadIdx.x; o < nwin * GF_BN; o += blockDim.x) {
                const int wl = o / GF_BN, col = o % GF_BN;
                if (n0 + col >= F) continue;
                float best = tile[wl * P][col];
                int arg = 0;
                for (int k = 1; k < P; ++k) {
                    const float v = tile[wl * P + k][col];
                    if (v > best) {
                        best = v;
                        arg = k;
                    }
                }
                y[(w0 + wl) * F + n0 + col] = best;
                argmax[(w0 + wl) * F + n0 + col] = arg;
            }
            __syncthreads();  // the next tile's main loop overwrites sm
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Data gradient. A[m][k] = dy[n, oh, ow, f] with m = (n,h,w), k = (i*KW+j)*F + f, where
// oh = (h + PT - i*DH) / SH when that is an exact, in-range quotient (likewise ow); zero otherwise.
// With stride s, only ~1/s^2 of the taps of a pixel are live; their zero rows still cost FMAs
// (a stride-phase decomposition would skip them; not done yet).
struct ConvBwdDataA {
    enum { kKContig = 1 };
    const float* __restrict__ dy;
    int F, KH, KW, OH, OW, SH, SW, DH, DW;
    int nOH, hb, wb;  // n*OH and the padded input coordinates h+PT, w+PL (hb < 0: row past M)
    bool vec;
    int i, j, f;
    int base;  // offset of dy[n, oh, ow, 0] for tap (i,j), or -1

    __device__ __forceinline__ ConvBwdDataA(const float* __restrict__ dy_, int M, int m0, int H, int W,
                                            int F_, int KH_, int KW_, int OH_, int OW_, int SH_, int SW_,
                                            int DH_, int DW_, int PT, int PL)
        : dy(dy_), F(F_), KH(KH_), KW(KW_), OH(OH_), OW(OW_), SH(SH_), SW(SW_), DH(DH_), DW(DW_) {
        const int row = m0 + gf_kc_row();
        const bool row_ok = row < M;
        const int r = row_ok ? row : 0;
        const int w = r % W, t = r / W;
        const int h = t % H, n = t / H;
        nOH = n * OH;
        hb = row_ok ? h + PT : -0x40000000;  // makes every tap's output row negative -> zero
        wb = w + PL;
        const int k0 = gf_kc_k();
        f = k0 % F;
        const int ij = k0 / F;
        j = ij % KW;
        i = ij / KW;
        vec = (F & 3) == 0 && gf_aligned16(dy);
        base = tap(i, j);
    }
    __device__ __forceinline__ int tap(int ii, int jj) const {
        const int ohn = hb - ii * DH, own = wb - jj * DW;
        if (ii >= KH || ohn < 0 || own < 0) return -1;
        const int oh = ohn / SH, ow = own / SW;
        if (oh * SH != ohn || ow * SW != own || oh >= OH || ow >= OW) return -1;
        return ((nOH + oh) * OW + ow) * F;
    }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (vec) {
            if (base >= 0) {
                const gf_float4 v = *reinterpret_cast<const gf_float4*>(dy + base + f);
                r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            } else {
                r[0] = r[1] = r[2] = r[3] = 0.0f;
            }
            return;
        }
        int ii = i, jj = j, ff = f, b = base;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            r[q] = b >= 0 ? dy[b + ff] : 0.0f;
            if (++ff == F) {
                ff = 0;
                if (++jj == KW) { jj = 0; ++ii; }
                b = tap(ii, jj);
            }
        }
    }
    __device__ __forceinline__ void next() {
        f += GF_BK;
        if (f >= F) {
            do {
                f -= F;
                if (++j == KW) { j = 0; ++i; }
            } while (f >= F);
            base = tap(i, j);
        }
    }
};

// B[k][c] = w[i, j, c, f] with k = (i*KW+j)*F + f: for a fixed tap, the transpose of w[i,j] (C x F).
// kKContig = 1: thread t owns input channel n0 + t/4 and 4 consecutive f (contiguous in w).
struct ConvBwdDataB {
    enum { kKContig = 1 };
    const float* __restrict__ w;
    int C, F, KK;  // KK = KH*KW, or 0 when this thread's channel is past C (all loads zero)
    int col;       // input channel c
    bool vec;
    int ij, f;
    int base;      // offset of w[ij, c, 0], or -1

    __device__ __forceinline__ ConvBwdDataB(const float* __restrict__ w_, int n0, int C_, int F_, int KH,
                                            int KW)
        : w(w_), C(C_), F(F_) {
        col = n0 + gf_kc_row();
        KK = col < C ? KH * KW : 0;
        const int k0 = gf_kc_k();
        f = k0 % F;
        ij = k0 / F;
        vec = (F & 3) == 0 && gf_aligned16(w);
        base = tap(ij);
    }
    __device__ __forceinline__ int tap(int t) const { return t < KK ? (t * C + col) * F : -1; }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (vec) {
            if (base >= 0) {
                const gf_float4 v = *reinterpret_cast<const gf_float4*>(w + base + f);
                r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            } else {
                r[0] = r[1] = r[2] = r[3] = 0.0f;
            }
            return;
        }
        int t = ij, ff = f, b = base;
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            r[q] = b >= 0 ? w[b + ff] : 0.0f;
            if (++ff == F) {
                ff = 0;
                b = tap(++t);
            }
        }
    }
    __device__ __forceinline__ void next() {
        f += GF_BK;
        if (f >= F) {
            do {
                f -= F;
                ++ij;
            } while (f >= F);
            base = tap(ij);
        }
    }
};

// dx[n,h,w,c] = sum over (oh,ow,i,j) with h = oh*SH-PT+i*DH, w = ow*SW-PL+j*DW of dy[n,oh,ow,f]*w[i,j,c,f].
// Tile 64 (input pixels) x 64 (input channels) x 16 (taps*filters); 256 threads; 4x4 micro-tile.
// Every dx element is written (zero where no output position touches it).
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, GF_GEMM_MIN_BLOCKS)
conv2d_bwd_data_f32(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,
                    int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW, int SH, int SW,
                    int DH, int DW, int PT, int PL) {
    __shared__ GfGemmSmem sm;
    const int M = N * H * W, K = KH * KW * F;
    if (M <= 0 || C <= 0) return;
    if (K <= 0 || OH <= 0 || OW <= 0) { gf_fill(dx, M * C, 0.0f); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_fill(dx, M * C, GF_QNAN); return; }
    const int tiles_m = gf_cdiv(M, GF_BM), tiles_n = gf_cdiv(C, GF_BN);
    for (int tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (int tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            const int m0 = tm * GF_BM, n0 = tn * GF_BN;
            float acc[4][4];
            gf_zero_acc(acc);
            ConvBwdDataA al(dy, M, m0, H, W, F, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
            ConvBwdDataB bl(w, n0, C, F, KH, KW);
            gf_gemm_mainloop(al, bl, gf_cdiv(K, GF_BK), sm, acc);
            gf_store_tile(dx, C, M, C, m0, n0, acc, GfIdentityEpilogue());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Filter gradient. A[r][k] = x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c], r = (i*KW+j)*C + c,
// k = (n*OH + oh)*OW + ow, k in [k_begin, k_end). kKContig = 0: thread t owns k = t/16 and 4
// consecutive rows r (4 consecutive channels of one tap when C % 4 == 0 -> one 128-bit load).
struct ConvBwdFilterA {
    enum { kKContig = 0 };
    const float* __restrict__ x;
    int H, W, C, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL;
    int k, k_end;    // current reduction index and the end of this block's K range
    int n, oh, ow;   // k decoded
    int i0, j0, c0;  // the first of this thread's 4 rows, decoded (i0 >= KH: past the last row)
    bool vec;

    __device__ __forceinline__ ConvBwdFilterA(const float* __restrict__ x_, int m0, int k_begin, int k_end_,
                                              int H_, int W_, int C_, int KH_, int KW_, int OH_, int OW_,
                                              int SH_, int SW_, int DH_, int DW_, int PT_, int PL_)
        : x(x_), H(H_), W(W_), C(C_), KH(KH_), KW(KW_), OH(OH_), OW(OW_), SH(SH_), SW(SW_), DH(DH_), DW(DW_),
          PT(PT_), PL(PL_), k_end(k_end_) {
        k = k_begin + gf_mc_k();
        ow = k % OW;
        const int t = k / OW;
        oh = t % OH;
        n = t / OH;
        const int r0 = m0 + gf_mc_row();
        c0 = r0 % C;
        const int ij = r0 / C;
        j0 = ij % KW;
        i0 = ij / KW;
        vec = (C & 3) == 0 && gf_aligned16(x);
    }
    __device__ __forceinline__ void load(float (&r)[4]) const {
        if (k >= k_end) {
            r[0] = r[1] = r[2] = r[3] = 0.0f;
            return;
        }
        const int hb = oh * SH - PT, wb = ow * SW - PL, nH = n * H;
        if (vec) {  // rows r0..r0+3 are channels c0..c0+3 of tap (i0, j0): C % 4 == 0, r0 % 4 == 0
            const int ih = hb + i0 * DH, iw = wb + j0 * DW;
            if (i0 < KH && ih >= 0 && ih < H && iw >= 0 && iw < W) {
                const gf_float4 v = *reinterpret_cast<const gf_float4*>(x + ((nH + ih) * W + iw) * C + c0);
                r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
            } else {
                r[0] = r[1] = r[2] = r[3] = 0.0f;
            }
            return;
        }
        int ii = i0, jj = j0, cc = c0;  // step through the 4 rows, carrying c -> j -> i
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int ih = hb + ii * DH, iw = wb + jj * DW;
            r[q] = (ii < KH && ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[((nH + ih) * W + iw) * C + cc] : 0.0f;
            if (++cc == C) {
                cc = 0;
                if (++jj == KW) { jj = 0; ++ii; }
            }
        }
    }
    __device__ __forceinline__ void next() {
        k += GF_BK;
        ow += GF_BK;
        while (ow >= OW) {
            ow -= OW;
            if (++oh == OH) { oh = 0; ++n; }
        }
    }
};

// One (KH*KW*C) x F tile of sum_{k in [k_begin, k_end)} A[r][k] * dy[k][f] -> out (ld F).
__device__ __forceinline__ void conv_bwd_filter_tile(const float* __restrict__ x, const float* __restrict__ dy,
                                                     float* __restrict__ out, GfGemmSmem& sm, int m0, int n0,
                                                     int k_begin, int k_end, int H, int W, int C, int F,
                                                     int KH, int KW, int OH, int OW, int SH, int SW, int DH,
                                                     int DW, int PT, int PL) {
    const int M = KH * KW * C;
    float acc[4][4];
    gf_zero_acc(acc);
    ConvBwdFilterA al(x, m0, k_begin, k_end, H, W, C, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
    GfRowMajorB bl(dy, F, F, k_begin, k_end, n0);
    gf_gemm_mainloop(al, bl, gf_cdiv(k_end - k_begin, GF_BK), sm, acc);
    gf_store_tile(out, F, M, F, m0, n0, acc, GfIdentityEpilogue());
}

// dw[i,j,c,f] = sum_{n,oh,ow} x[n, oh*SH-PT+i*DH, ow*SW-PL+j*DW, c] * dy[n,oh,ow,f].
// Tile 64 (taps*channels) x 64 (filters) x 16 (batch*output pixels); 256 threads; 4x4 micro-tile.
// The whole K = N*OH*OW runs in one block, so only ceil(KH*KW*C/64) * ceil(F/64) blocks exist
// (e.g. 5 for a 3x3x32->64 layer): fine for small layers, under-fills a big GPU. For large K use
// conv2d_bwd_filter_splitk_f32 + splitk_reduce_f32.
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, GF_GEMM_MIN_BLOCKS)
conv2d_bwd_filter_f32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dw,
                      int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW, int SH, int SW,
                      int DH, int DW, int PT, int PL) {
    __shared__ GfGemmSmem sm;
    const int M = KH * KW * C, K = N * OH * OW;
    if (M <= 0 || F <= 0) return;
    if (K <= 0) { gf_fill(dw, M * F, 0.0f); return; }
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_fill(dw, M * F, GF_QNAN); return; }
    const int m0 = blockIdx.y * GF_BM, n0 = blockIdx.x * GF_BN;
    if (m0 >= M || n0 >= F) return;  // block-uniform
    conv_bwd_filter_tile(x, dy, dw, sm, m0, n0, 0, K, H, W, C, F, KH, KW, OH, OW, SH, SW, DH, DW, PT, PL);
}

// Split-K filter gradient: split s = blockIdx.z reduces k in
// [s*k_chunk, min(K, (s+1)*k_chunk)) and writes its partial dw to ws[s, :, :] (KH*KW*C x F), for
// s < splits = ceil(K / k_chunk); ws must hold splits*KH*KW*C*F floats. Then
// splitk_reduce_f32(ws, dw, splits, KH*KW*C*F) sums the partials in split order (deterministic).
// Launch: block (256,1,1), grid (ceil(F/64), ceil(KH*KW*C/64), splits). k_chunk should be a
// multiple of 16 (any positive value is correct). Same tile / occupancy as conv2d_bwd_filter_f32.
// Suggested split: tiles = ceil(KH*KW*C/64) * ceil(F/64); splits = clamp(ceil(3 * num_SMs / tiles),
// 1, ceil(K / 512)); k_chunk = round_up(ceil(K / splits), 16) (>= 32 slices per split keeps the
// main loop long enough to hide the prologue; workspace = splits * KH*KW*C*F floats).
extern "C" __global__ void __launch_bounds__(GF_GEMM_THREADS, GF_GEMM_MIN_BLOCKS)
conv2d_bwd_filter_splitk_f32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ ws,
                             int N, int H, int W, int C, int F, int KH, int KW, int OH, int OW, int SH, int SW,
                             int DH, int DW, int PT, int PL, int k_chunk) {
    __shared__ GfGemmSmem sm;
    const int M = KH * KW * C, K = N * OH * OW;
    if (M <= 0 || F <= 0 || K <= 0 || k_chunk <= 0) return;
    const int splits = gf_cdiv(K, k_chunk);
    if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0) { gf_fill(ws, splits * M * F, GF_QNAN); return; }
    const int m0 = blockIdx.y * GF_BM, n0 = blockIdx.x * GF_BN, s = blockIdx.z;
    if (m0 >= M || n0 >= F || s >= splits) return;  // block-uniform
    const int k_begin = s * k_chunk, k_end = gf_min(K, k_begin + k_chunk);
    conv_bwd_filter_tile(x, dy, ws + s * (M * F), sm, m0, n0, k_begin, k_end, H, W, C, F, KH, KW, OH, OW, SH,
                         SW, DH, DW, PT, PL);
}

// out[e] = sum_{s < splits} ws[s * size + e], summed in split order; out is fully written (zeros when
// splits == 0). One thread per element, grid-stride; block 256, grid ceil(size / 256).
// Memory-bound: reads splits*size floats, writes size floats, coalesced.
extern "C" __global__ void __launch_bounds__(256)
splitk_reduce_f32(const float* __restrict__ ws, float* __restrict__ out, int splits, int size) {
    GF_GRID_STRIDE_LOOP(e, size) {
        float s = 0.0f;
        const float* p = ws + e;
        for (int z = 0; z < splits; ++z, p += size) s += *p;
        out[e] = s;
    }
}
