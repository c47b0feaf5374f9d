// Shared-memory tree reduction: out[block] = sum of the block's chunk of x.
// block_sum has the barriers; block_sum_nosync is the same code without them (a race).
#define TILE 128

template <bool Sync>
__device__ __forceinline__ void reduce_tile(const float* __restrict__ x, float* __restrict__ out, int n) {
    __shared__ float s[TILE];
    const int i = blockIdx.x * TILE + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0f;
    if (Sync) __syncthreads();
    for (int stride = TILE / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
        if (Sync) __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}

extern "C" __global__ void block_sum(const float* __restrict__ x, float* __restrict__ out, int n) {
    reduce_tile<true>(x, out, n);
}

extern "C" __global__ void block_sum_nosync(const float* __restrict__ x, float* __restrict__ out, int n) {
    reduce_tile<false>(x, out, n);
}

// __syncthreads_count / _and / _or.
extern "C" __global__ void sync_preds(const int* __restrict__ flags, int* out) {
    const int f = flags[blockIdx.x * blockDim.x + threadIdx.x];
    const int c = __syncthreads_count(f), a = __syncthreads_and(f), o = __syncthreads_or(f);
    if (threadIdx.x == 0) {
        out[3 * blockIdx.x + 0] = c;
        out[3 * blockIdx.x + 1] = a;
        out[3 * blockIdx.x + 2] = o;
    }
}
