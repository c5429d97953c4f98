// Elementwise add, C = A + B, on CUDA: a grid-stride loop in which each thread handles four
// consecutive elements per step (the float4-style vectorisation, written with scalar accesses),
// then a grid-stride loop over the n % 4 leftovers. The host launcher sizes the grid for n / 4
// quads with 256-thread blocks, capped so that large inputs reuse threads.
#include <cuda_runtime.h>

__global__ void __launch_bounds__(256) add(const float* __restrict__ A, const float* __restrict__ B,
                                           float* __restrict__ C, int n) {
    int stride = blockDim.x * gridDim.x;
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    int n4 = n / 4;
    for (int q = tid; q < n4; q += stride) {
        int i = 4 * q;
        float a0 = A[i];
        float a1 = A[i + 1];
        float a2 = A[i + 2];
        float a3 = A[i + 3];
        float b0 = B[i];
        float b1 = B[i + 1];
        float b2 = B[i + 2];
        float b3 = B[i + 3];
        C[i] = a0 + b0;
        C[i + 1] = a1 + b1;
        C[i + 2] = a2 + b2;
        C[i + 3] = a3 + b3;
    }
    for (int i = 4 * n4 + tid; i < n; i += stride) {
        C[i] = A[i] + B[i];
    }
}

void add_launch(const float* A, const float* B, float* C, int n) {
    int quads = n / 4 + 1;
    int blocks = min((quads + 255) / 256, 1024);
    add<<<blocks, 256>>>(A, B, C, n);
}
