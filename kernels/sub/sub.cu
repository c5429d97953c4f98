// Elementwise subtract, C = A - B, over a rows x cols matrix on CUDA: a 2-D grid of 32 x 8
// blocks, one thread per element (x along cols so that a warp reads a contiguous row segment),
// guarded at the right and bottom edges. The spec's [launch] table gives the geometry.
#include <cuda_runtime.h>

__global__ void sub(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                    int rows, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (r < rows && c < cols) {
        int i = r * cols + c;
        C[i] = A[i] - B[i];
    }
}
