// Elementwise sine on CUDA, y = sinf(x) (the precise sinf, not __sinf, whose error grows
// with |x|): one thread per element with a grid-stride loop; the host launcher caps the grid
// so that large inputs reuse threads.
#include <cuda_runtime.h>

__global__ void __launch_bounds__(256) sin_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
    int stride = blockDim.x * gridDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        y[i] = sinf(x[i]);
    }
}

void sin_kernel_launch(const float* x, float* y, int n) {
    int blocks = min((n + 255) / 256, 2048);
    sin_kernel<<<blocks, 256>>>(x, y, n);
}
