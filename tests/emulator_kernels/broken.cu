// A kernel with a compile error on line 5 (an undeclared identifier).
extern "C" __global__ void broken(float* y) {
    const int i = threadIdx.x;
    y[i] = 1.0f;
    y[i] += undeclared_variable;
}
