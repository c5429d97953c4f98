// fp32 batched GEMM on CUDA, C[b] = A[b] @ B[b] (A: batch x M x K, B: batch x K x N,
// C: batch x M x N, row-major). blockIdx.z picks the matrix; within it each 16x16 block computes
// a 16x16 tile of C with the classic shared-memory tiling: stage a tile of A and of B, sync,
// accumulate, sync. Out-of-range loads stage zeros, so no size needs to be a multiple of 16.
#include <cuda_runtime.h>

#define TILE 16

__global__ void bmm(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                    int batch, int M, int N, int K) {
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int b = blockIdx.z;
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    const float* a = A + b * M * K;
    const float* bm = B + b * K * N;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        As[ty][tx] = (row < M && k0 + tx < K) ? a[row * K + k0 + tx] : 0.0f;
        Bs[ty][tx] = (k0 + ty < K && col < N) ? bm[(k0 + ty) * N + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TILE; kk += 1) {
            acc += As[ty][kk] * Bs[kk][tx];
        }
        __syncthreads();
    }
    if (b < batch && row < M && col < N) {
        C[(b * M + row) * N + col] = acc;
    }
}
