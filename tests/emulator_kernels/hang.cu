// Launches that would hang (or be undefined) on a GPU; the emulator must report them.

// __syncthreads inside a branch taken by half of the block.
extern "C" __global__ void divergent_barrier(float* y) {
    if (threadIdx.x < 16) {
        __syncthreads();
    }
    y[threadIdx.x] = 1.0f;
}

// Two different barriers for the two halves of the block.
extern "C" __global__ void two_barriers(float* y) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    y[threadIdx.x] = 1.0f;
}

// Early return, then a warp shuffle with a full mask.
extern "C" __global__ void exit_before_shuffle(const float* x, float* y, int n) {
    const int i = threadIdx.x;
    if (i >= n) return;
    y[i] = __shfl_down_sync(0xffffffffu, x[i], 1);
}

// Half of the warp waits at __syncthreads, the other half at a shuffle.
extern "C" __global__ void barrier_vs_shuffle(float* y) {
    float v = 1.0f;
    if (threadIdx.x < 16) __syncthreads();
    else v = __shfl_xor_sync(0xffffffffu, v, 1);
    y[threadIdx.x] = v;
}

extern "C" __global__ void traps(int* y) {
    if (threadIdx.x == 5) __trap();
    y[threadIdx.x] = 1;
}

// Thread 0 spins until thread 1 sets a flag: fine on a GPU (independent thread scheduling), but the
// emulator runs thread 0 first and it never yields. The watchdog says so on stderr.
extern "C" __global__ void spin_wait(int* flag) {
    volatile int* f = flag;
    if (threadIdx.x == 0) {
        while (*f == 0) {
        }
    } else {
        *f = 1;
    }
}
