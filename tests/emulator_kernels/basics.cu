// Toy kernels for tests/test_emulator.py: indexing, atomics, dynamic shared memory, warp intrinsics.

// out[i] = a[i] + b[i] for i < n (the grid may overshoot n: the tail is bounds-checked).
extern "C" __global__ void vadd(const float* __restrict__ a, const float* __restrict__ b,
                                float* __restrict__ out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}

// y[i] = alpha * x[i] + beta for i < n, with scalars of several types.
extern "C" __global__ void axpb(float alpha, double beta, const float* x, double* y, long long n,
                                unsigned int stride) {
    for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = alpha * x[i] + beta;
}

// Every thread writes its global linear id into out[z][y][x] of the full launch (3-D grid and block).
extern "C" __global__ void ids3d(int* out, int* coords) {
    const int gx = blockIdx.x * blockDim.x + threadIdx.x;
    const int gy = blockIdx.y * blockDim.y + threadIdx.y;
    const int gz = blockIdx.z * blockDim.z + threadIdx.z;
    const int nx = gridDim.x * blockDim.x, ny = gridDim.y * blockDim.y;
    const int lin = (gz * ny + gy) * nx + gx;
    out[lin] = lin;
    coords[4 * lin + 0] = threadIdx.x + 10 * threadIdx.y + 100 * threadIdx.z;
    coords[4 * lin + 1] = blockIdx.x + 10 * blockIdx.y + 100 * blockIdx.z;
    coords[4 * lin + 2] = blockDim.x + 10 * blockDim.y + 100 * blockDim.z;
    coords[4 * lin + 3] = gridDim.x + 10 * gridDim.y + 100 * gridDim.z;
}

// Histogram of values in [0, nbins) with global atomics, plus a float atomicAdd total.
extern "C" __global__ void histogram(const int* __restrict__ v, int n, int* bins, int nbins, float* total) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        const int b = v[i];
        if (b >= 0 && b < nbins) atomicAdd(&bins[b], 1);
        atomicAdd(total, 1.0f);
    }
}

// Reverses each block's chunk of x through dynamic shared memory (blockDim.x floats + one int).
extern "C" __global__ void reverse_dyn(const float* __restrict__ x, float* __restrict__ y, int n) {
    extern __shared__ __align__(16) float buf[];
    int* counter = reinterpret_cast<int*>(buf + blockDim.x);
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (threadIdx.x == 0) *counter = 0;
    __syncthreads();
    buf[threadIdx.x] = i < n ? x[i] : 0.0f;
    atomicAdd(counter, 1);
    __syncthreads();
    const int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - threadIdx.x);
    if (j < n && *counter == (int)blockDim.x) y[j] = buf[threadIdx.x];
}

// Sum of each 32-element warp segment with __shfl_down_sync; lane 0 writes it.
extern "C" __global__ void warp_sum(const float* __restrict__ x, float* __restrict__ out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.0f;
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if ((threadIdx.x & 31) == 0) out[i / 32] = v;
}

// Per warp: the ballot of x[i] > 0, the broadcast of lane 3's value (__shfl_sync), xor-butterfly max,
// inclusive prefix sum with __shfl_up_sync, __any_sync / __all_sync.
extern "C" __global__ void warp_misc(const float* __restrict__ x, unsigned* ballots, float* bcast, float* bfly,
                                     float* scan, int* anyall) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31, w = i / 32;
    const float v = x[i];
    const unsigned b = __ballot_sync(0xffffffffu, v > 0.0f);
    if (lane == 0) ballots[w] = b;
    bcast[i] = __shfl_sync(0xffffffffu, v, 3);
    float m = v;
    for (int k = 16; k > 0; k >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, k));
    bfly[i] = m;
    float s = v;
    for (int k = 1; k < 32; k <<= 1) {
        const float t = __shfl_up_sync(0xffffffffu, s, k);
        if (lane >= k) s += t;
    }
    scan[i] = s;
    const int a = __any_sync(0xffffffffu, v > 0.0f), l = __all_sync(0xffffffffu, v > 0.0f);
    if (lane == 0) anyall[w] = a + 2 * l;
}

// Less common built-ins: __syncwarp, shuffles within 16-lane segments, __match_any_sync,
// __reduce_add_sync, __activemask, atomicCAS / atomicMax / atomicExch, float4 vector loads, min / max.
// out[i] gets 8 ints per thread.
extern "C" __global__ void extras(const int* __restrict__ v, const float4* __restrict__ q, int* out,
                                  int* cas_target, int* maxv) {
    const int i = threadIdx.x, lane = i & 31;
    int* o = out + 8 * i;
    const int x = v[i];
    o[0] = __shfl_sync(0xffffffffu, x, 0, 16);          // lane 0 of each 16-lane segment
    o[1] = __shfl_xor_sync(0xffffffffu, x, 8, 16);
    o[2] = (int)__match_any_sync(0xffffffffu, x % 4);   // lanes with the same residue
    o[3] = (int)__reduce_add_sync(0xffffffffu, (unsigned)x);
    __syncwarp();
    o[4] = (__activemask() >> lane) & 1u;  // the emulator's activemask: lanes not exited yet
    const float4 f = q[i];
    o[5] = (int)(f.x + f.y + f.z + f.w);
    o[6] = max(x, 10) + min(x, 3);
    if (lane == 31) atomicCAS(cas_target, -1, i);  // the first lane 31 to get here wins
    atomicMax(maxv, x);
    o[7] = atomicExch(maxv + 1, x) >= -1;
}
