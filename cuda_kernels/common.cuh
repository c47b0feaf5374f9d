// common.cuh — definitions shared by every gpuflow kernel source (cuda_kernels/*.cu).
//
// Included as `#include "common.cuh"` with `-I<cuda_kernels dir>`. It must compile in three places:
// NVRTC (no libc / C++ standard headers at all), nvcc, and the CPU emulator
// (gpuflow/backend/emulator/, a C++ header that provides the CUDA built-ins). So nothing here
// includes a header, and the only CUDA built-ins used are the ones every CUDA toolchain and the
// emulator provide: threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __int_as_float, fmaf.
//
// Conventions for all kernels (see DESIGN.md, rules 4 and 5):
//   * float32, NHWC activations, (KH, KW, C, F) convolution filters, C-contiguous buffers;
//   * every entry point is `extern "C" __global__`, takes `int` (int32) sizes and bounds-checks all
//     of its indices, so any grid at least as large as documented is correct, and grid-stride loops
//     make smaller grids correct too;
//   * every kernel fully writes its output (callers allocate with empty(), never zeros());
//   * tensors have fewer than 2^31 elements (indices are int; CupyBackend.check_index_range checks
//     every tensor a kernel indexes before its launch);
//   * no warp-synchronous code relying on implicit lockstep, no inter-block waits, no inline PTX.
#ifndef GPUFLOW_COMMON_CUH
#define GPUFLOW_COMMON_CUH

// -inf / +inf as exact IEEE-754 bit patterns. There is no <math.h>/<cfloat> under NVRTC, so neither
// INFINITY nor FLT_MAX exists; __int_as_float is a CUDA device built-in (a register reinterpret, no
// conversion) that the emulator header also provides. A literal such as -3.402823466e38f would be
// -FLT_MAX, not -inf, and would turn an all--inf max-pool window into a finite value.
#define GF_NEG_INF __int_as_float((int)0xff800000u)
#define GF_POS_INF __int_as_float((int)0x7f800000u)
#define GF_QNAN __int_as_float(0x7fc00000)

// Integer helpers (CUDA's min/max overloads are not guaranteed in the emulator; keep our own).
__device__ __forceinline__ int gf_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int gf_max(int a, int b) { return a > b ? a : b; }
// ceil(a / b) for b > 0; for a > 0 without forming a + b - 1, which overflows for a near 2^31.
__device__ __forceinline__ int gf_cdiv(int a, int b) { return a > 0 ? (a - 1) / b + 1 : (a + b - 1) / b; }

// The (n, h, w, c) coordinates of flat index idx into an NHWC tensor of height H, width W and C channels.
__device__ __forceinline__ void gf_nhwc_coords(int idx, int H, int W, int C, int& n, int& h, int& w, int& c) {
    c = idx % C;
    int t = idx / C;
    w = t % W;
    t /= W;
    h = t % H;
    n = t / H;
}

// A 16-byte aligned group of four floats, for 128-bit global/shared loads and stores on the
// vectorised paths. Our own type rather than CUDA's float4 so that the emulator needs nothing
// beyond standard C++ (alignas) to provide it; ptxas emits ld/st.v4.f32 for it (checked in PTX).
struct alignas(16) gf_float4 {
    float x, y, z, w;
};

// True when p is 16-byte aligned (the vectorised paths also require the row length % 4 == 0).
__device__ __forceinline__ bool gf_aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0ull;
}

// Grid-stride loop over [0, total): correct for any 1-D launch, one element per thread when the grid
// covers `total`. The step stops at `total` instead of passing it: idx + stride would overflow int32
// for total > 2^30 with a full grid (stride >= total); the comparison is unsigned, as the stride may be 2^31.
#define GF_GRID_STRIDE_LOOP(idx, total)                                                  \
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < (total);                 \
         idx = (unsigned)((total) - idx) > blockDim.x * gridDim.x ? idx + (int)(blockDim.x * gridDim.x) : (total))

// Fills out[0, count) with v using every thread of the grid (all three grid dimensions). Used for
// degenerate shapes (an empty reduction writes zeros) and invalid arguments (strides <= 0 write NaN,
// so a wrapper bug shows up in the output instead of leaving uninitialised memory).
__device__ __forceinline__ void gf_fill(float* out, int count, float v) {
    const int block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const int nthreads = blockDim.x * gridDim.x * gridDim.y * gridDim.z;
    for (int e = block * blockDim.x + threadIdx.x; e < count; e = count - e > nthreads ? e + nthreads : count)
        out[e] = v;
}

#endif  // GPUFLOW_COMMON_CUH
