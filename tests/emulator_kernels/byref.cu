// Locals passed by reference to non-inlined device functions (as wmma fragments are): under
// AddressSanitizer each such frame poisons redzones on the fiber stack, which the next block reuses.

struct Frag {
    float v[8];
};

__device__ __noinline__ void frag_fill(Frag& f, float s) {
    for (int i = 0; i < 8; ++i) f.v[i] = s + (float)i;
}

__device__ __noinline__ float frag_sum(const Frag& f) {
    float s = 0.0f;
    for (int i = 0; i < 8; ++i) s += f.v[i];
    return s;
}

// y[i] = sum(i + 0..7) + sum(1 + 0..7) = 8 i + 64 for i < n.
extern "C" __global__ void frag_by_reference(float* __restrict__ y, int n) {
    Frag a, b;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    frag_fill(a, (float)i);
    __syncthreads();
    frag_fill(b, 1.0f);
    if (i < n) y[i] = frag_sum(a) + frag_sum(b);
}
