// pool2d.cu — 2-D max and average pooling, NHWC float32, forward and backward.
//
// Common arguments: N, H, W, C (input), OH, OW (output), PH, PW (pool window), SH, SW (strides),
// PT, PL (top / left padding; the bottom / right padding is implied by OH, OW).
// Window (oh, ow) covers input rows oh*SH-PT .. +PH-1 and columns ow*SW-PL .. +PW-1; elements
// outside the input are padding.
//
// Parallelisation: one thread per output element (forward) or per input element (backward, a
// gather over the windows that contain it: no atomics, deterministic, every dx element written).
// Channels are the fastest index, so a warp reads and writes 32 consecutive channels: coalesced
// whenever C >= 32, and the window re-reads hit L1/L2. Grid-stride loops: any 1-D grid is correct.
// Launch: block (256, 1, 1), grid ceil(total / 256) (total = N*OH*OW*C forward, N*H*W*C backward).
// No shared memory; ~20-30 registers -> full occupancy (64 warps per SM on sm_80 / sm_90).
// Memory-bound: the floor is reading x (or dy + argmax) once and writing the output once.
//
// Backward sums run over the windows in the order the NumPy reference adds them (window offset
// i*PW+j ascending, i.e. output row/column descending), so results match it bit for bit.
#include "common.cuh"

// First and last output index whose window (stride s, size p) contains padded coordinate hp.
__device__ __forceinline__ void gf_pool_range(int hp, int p, int s, int O, int& lo, int& hi) {
    const int a = hp - p + 1;
    lo = a <= 0 ? 0 : gf_cdiv(a, s);
    hi = gf_min(hp / s, O - 1);
}

// y = max over the window; padding never wins. argmax = window offset i*PW + j of the FIRST maximum
// in row-major window order (TensorFlow's tie rule), or -1 for a window made only of padding (then
// y = -inf). A NaN is only taken when it is the first element of the window.
extern "C" __global__ void __launch_bounds__(256)
max_pool2d_fwd_f32(const float* __restrict__ x, float* __restrict__ y, int* __restrict__ argmax, int N, int H,
                   int W, int C, int OH, int OW, int PH, int PW, int SH, int SW, int PT, int PL) {
    const int total = N * OH * OW * C;
    GF_GRID_STRIDE_LOOP(idx, total) {
        int n, oh, ow, c;
        gf_nhwc_coords(idx, OH, OW, C, n, oh, ow, c);
        const int h0 = oh * SH - PT, w0 = ow * SW - PL;
        const int i_lo = gf_max(0, -h0), i_hi = gf_min(PH, H - h0);
        const int j_lo = gf_max(0, -w0), j_hi = gf_min(PW, W - w0);
        float best = GF_NEG_INF;
        int arg = -1;
        for (int i = i_lo; i < i_hi; ++i) {
            const int row = ((n * H + h0 + i) * W + w0) * C + c;  // + j*C is in range for j in [j_lo, j_hi)
            for (int j = j_lo; j < j_hi; ++j) {
                const float v = x[row + j * C];
                if (arg < 0 || v > best) {
                    best = v;
                    arg = i * PW + j;
                }
            }
        }
        y[idx] = best;
        argmax[idx] = arg;
    }
}

// dx[n,h,w,c] = sum of dy[n,oh,ow,c] over the windows containing (h,w) whose argmax is (h,w).
extern "C" __global__ void __launch_bounds__(256)
max_pool2d_bwd_f32(const float* __restrict__ dy, const int* __restrict__ argmax, float* __restrict__ dx, int N,
                   int H, int W, int C, int OH, int OW, int PH, int PW, int SH, int SW, int PT, int PL) {
    const int total = N * H * W * C;
    if (SH <= 0 || SW <= 0) { gf_fill(dx, total, GF_QNAN); return; }  // invalid strides: wrapper bug
    GF_GRID_STRIDE_LOOP(idx, total) {
        int n, h, w, c;
        gf_nhwc_coords(idx, H, W, C, n, h, w, c);
        const int hp = h + PT, wp = w + PL;
        int oh_lo, oh_hi, ow_lo, ow_hi;
        gf_pool_range(hp, PH, SH, OH, oh_lo, oh_hi);
        gf_pool_range(wp, PW, SW, OW, ow_lo, ow_hi);
        float s = 0.0f;
        for (int oh = oh_hi; oh >= oh_lo; --oh) {
            const int i = hp - oh * SH;
            for (int ow = ow_hi; ow >= ow_lo; --ow) {
                const int o = ((n * OH + oh) * OW + ow) * C + c;
                if (argmax[o] == i * PW + (wp - ow * SW)) s += dy[o];
            }
        }
        dx[idx] = s;
    }
}

// Number of non-padding elements in the window starting at (h0, w0).
__device__ __forceinline__ int gf_pool_count(int h0, int w0, int PH, int PW, int H, int W) {
    const int ch = gf_min(h0 + PH, H) - gf_max(h0, 0);
    const int cw = gf_min(w0 + PW, W) - gf_max(w0, 0);
    return (ch > 0 && cw > 0) ? ch * cw : 0;
}

// y = mean of the NON-padding elements of the window (tf.nn.avg_pool2d); 0 for an all-padding window.
extern "C" __global__ void __launch_bounds__(256)
avg_pool2d_fwd_f32(const float* __restrict__ x, float* __restrict__ y, int N, int H, int W, int C, int OH,
                   int OW, int PH, int PW, int SH, int SW, int PT, int PL) {
    const int total = N * OH * OW * C;
    GF_GRID_STRIDE_LOOP(idx, total) {
        int n, oh, ow, c;
        gf_nhwc_coords(idx, OH, OW, C, n, oh, ow, c);
        const int h0 = oh * SH - PT, w0 = ow * SW - PL;
        const int i_lo = gf_max(0, -h0), i_hi = gf_min(PH, H - h0);
        const int j_lo = gf_max(0, -w0), j_hi = gf_min(PW, W - w0);
        float s = 0.0f;
        for (int i = i_lo; i < i_hi; ++i) {
            const int row = ((n * H + h0 + i) * W + w0) * C + c;
            for (int j = j_lo; j < j_hi; ++j) s += x[row + j * C];
        }
        const int cnt = gf_pool_count(h0, w0, PH, PW, H, W);
        y[idx] = cnt > 0 ? s / (float)cnt : 0.0f;
    }
}

// dx[n,h,w,c] = sum over the windows containing (h,w) of dy[n,oh,ow,c] / count(oh,ow).
extern "C" __global__ void __launch_bounds__(256)
avg_pool2d_bwd_f32(const float* __restrict__ dy, float* __restrict__ dx, int N, int H, int W, int C, int OH,
                   int OW, int PH, int PW, int SH, int SW, int PT, int PL) {
    const int total = N * H * W * C;
    if (SH <= 0 || SW <= 0) { gf_fill(dx, total, GF_QNAN); return; }  // invalid strides: wrapper bug
    GF_GRID_STRIDE_LOOP(idx, total) {
        int n, h, w, c;
        gf_nhwc_coords(idx, H, W, C, n, h, w, c);
        const int hp = h + PT, wp = w + PL;
        int oh_lo, oh_hi, ow_lo, ow_hi;
        gf_pool_range(hp, PH, SH, OH, oh_lo, oh_hi);
        gf_pool_range(wp, PW, SW, OW, ow_lo, ow_hi);
        float s = 0.0f;
        for (int oh = oh_hi; oh >= oh_lo; --oh) {
            for (int ow = ow_hi; ow >= ow_lo; --ow) {
                const int cnt = gf_pool_count(oh * SH - PT, ow * SW - PL, PH, PW, H, W);
                s += dy[((n * OH + oh) * OW + ow) * C + c] / (float)cnt;
            }
        }
        dx[idx] = s;
    }
}
