// cp.async (cuda_pipeline_primitives.h) in a two-stage pipeline, and mutants that wait too little.
// Block b sums x[b*256 .. b*256 + 255] in two chunks of 128 floats: 32 threads each copy 16 bytes
// (4 floats) per chunk into shared memory; the second chunk's copies are in flight while the first
// is summed.
#include <cuda_pipeline_primitives.h>

// mode 0: correct; 1: no wait before reading chunk 0; 2: __pipeline_wait_prior(1) before reading
// chunk 1 too (its group is still pending); 3: no __syncthreads after the wait (another thread's copy).
extern "C" __global__ void pipelined_sum(const float* __restrict__ x, float* __restrict__ out, int n, int mode) {
    __shared__ __align__(16) float s[2][128];
    const float* base = x + blockIdx.x * 256;
    for (int c = 0; c < 2; ++c) {
        const int e = c * 128 + threadIdx.x * 4;
        // Zero-fill what lies past n (zfill counts bytes at the end of the 16).
        const int valid = blockIdx.x * 256 + e < n ? (n - (int)blockIdx.x * 256 - e >= 4 ? 4 : n - (int)blockIdx.x * 256 - e) : 0;
        __pipeline_memcpy_async(&s[c][threadIdx.x * 4], valid > 0 ? base + e : x, 16, 16 - 4 * valid);
        __pipeline_commit();
    }
    float acc = 0.0f;
    for (int c = 0; c < 2; ++c) {
        if (mode != 1 || c == 1) __pipeline_wait_prior(mode == 2 ? 1 : 1 - c);
        if (mode != 3) __syncthreads();
        if (threadIdx.x == 0)
            for (int i = 0; i < 128; ++i) acc += s[c][i];
    }
    if (threadIdx.x == 0) out[blockIdx.x] = acc;
}
