// One-warp nvcuda::wmma kernels for the emulator's tests: a correct TF32 16x16x8 product, and
// mutants that assume a fragment layout, call wmma from a diverged warp, or pass a misaligned pointer.
#include <mma.h>
using namespace nvcuda;

typedef wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 8, float> FragC;

struct Tiles {
    float a[16 * 8];
    float b[8 * 16];
    float c[16 * 16];
};

__device__ void stage(Tiles& s, const float* a, const float* b) {
    for (int i = threadIdx.x; i < 128; i += 32) {
        s.a[i] = wmma::__float_to_tf32(a[i]);
        s.b[i] = wmma::__float_to_tf32(b[i]);
    }
    __syncwarp();
}

// c (16x16, row-major) = a (16x8) * b (8x16), through shared memory only: layout-independent.
extern "C" __global__ void mma_16x16x8(const float* a, const float* b, float* c) {
    __shared__ __align__(32) Tiles s;
    stage(s, a, b);
    FragA fa;
    FragB fb;
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    wmma::load_matrix_sync(fa, s.a, 8);
    wmma::load_matrix_sync(fb, s.b, 16);
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(s.c, acc, 16, wmma::mem_row_major);
    __syncwarp();
    for (int i = threadIdx.x; i < 256; i += 32) c[i] = s.c[i];
}

// Mutant: writes the accumulator's elements straight to c assuming lane l holds row l / 2,
// columns (l % 2) * 8 .. + 7 (one plausible layout; CUDA specifies none).
extern "C" __global__ void mma_assumes_layout(const float* a, const float* b, float* c) {
    __shared__ __align__(32) Tiles s;
    stage(s, a, b);
    FragA fa;
    FragB fb;
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    wmma::load_matrix_sync(fa, s.a, 8);
    wmma::load_matrix_sync(fb, s.b, 16);
    wmma::mma_sync(acc, fa, fb, acc);
    const int l = threadIdx.x;
    for (int i = 0; i < acc.num_elements; ++i) c[(l / 2) * 16 + (l % 2) * 8 + i] = acc.x[i];
}

// Mutant: only half of the warp loads the fragment.
extern "C" __global__ void load_in_diverged_warp(const float* a, float* c) {
    __shared__ __align__(32) Tiles s;
    stage(s, a, a);
    FragA fa;
    if (threadIdx.x < 16) wmma::load_matrix_sync(fa, s.a, 8);
    c[threadIdx.x] = 1.0f;
}

// Mutant: loads from 4 floats past a 32-byte boundary.
extern "C" __global__ void load_misaligned(const float* a, const float* b, float* c) {
    __shared__ __align__(32) Tiles s;
    stage(s, a, b);
    FragB fb;
    wmma::load_matrix_sync(fb, s.b + 4, 16);
    c[threadIdx.x] = fb.x[0];
}
