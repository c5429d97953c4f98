// Logistic sigmoid on CUDA, y = 1 / (1 + exp(-x)): a grid-stride loop with 256-thread blocks
// (the launch bound); the host launcher caps the grid at 1024 blocks so that large inputs
// reuse threads. expf(-x) overflowing to inf for very negative x gives y = 0, as it should.
#include <cuda_runtime.h>

__device__ float sigmoidf(float v) {
    return 1.0f / (1.0f + expf(-v));
}

__global__ void __launch_bounds__(256) sigmoid(const float* __restrict__ x, float* __restrict__ y, int n) {
    int stride = blockDim.x * gridDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        y[i] = sigmoidf(x[i]);
    }
}

void sigmoid_launch(const float* x, float* y, int n) {
    int blocks = min((n + 255) / 256, 1024);
    sigmoid<<<blocks, 256>>>(x, y, n);
}
