// Kernels with off-by-one errors, for the out-of-bounds checker (GPUFLOW_EMU_BOUNDS=1).

// Copies n + extra elements: reads and writes past the end when extra > 0.
extern "C" __global__ void copy_extra(const float* __restrict__ x, float* __restrict__ y, int n, int extra) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n + extra) y[i] = x[i < n ? i : 0];
}

// Reads x[i + shift] for i < n (out of bounds when shift != 0); writes y[i] in bounds.
extern "C" __global__ void read_shift(const float* __restrict__ x, float* __restrict__ y, int n, int shift) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i + shift];
}

// Writes s[threadIdx.x + shift] in a static shared array of 64 floats.
extern "C" __global__ void shared_overrun(float* __restrict__ y, int shift) {
    __shared__ float s[64];
    s[threadIdx.x + shift] = 1.0f;
    __syncthreads();
    y[threadIdx.x] = s[threadIdx.x];
}

// Writes dynamic shared memory element [threadIdx.x + shift] (shared_mem = blockDim.x floats).
extern "C" __global__ void dyn_shared_overrun(float* __restrict__ y, int shift) {
    extern __shared__ float d[];
    d[threadIdx.x + shift] = 2.0f;
    __syncthreads();
    y[threadIdx.x] = d[threadIdx.x];
}
