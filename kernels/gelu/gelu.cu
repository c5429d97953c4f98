// Exact GELU on CUDA over a rows x cols matrix, y = 0.5 * x * (1 + erf(x / sqrt(2))).
// blockIdx.y picks the row; the blocks along x stride over its columns (a grid-stride loop
// within the row), so a few blocks cover a row of any width.
#include <cuda_runtime.h>

__device__ float gelu_erf(float v) {
    return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
}

__global__ void __launch_bounds__(256) gelu(const float* __restrict__ x, float* __restrict__ y,
                                            int rows, int cols) {
    int r = blockIdx.y;
    if (r >= rows) {
        return;
    }
    const float* xr = x + r * cols;
    int stride = blockDim.x * gridDim.x;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += stride) {
        y[r * cols + c] = gelu_erf(xr[c]);
    }
}
