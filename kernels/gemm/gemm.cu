// fp32 GEMM on CUDA, C = A @ B (A: M x K, B: K x N, C: M x N, row-major).
// Classic 16x16 shared-memory tiling: each block computes a 16x16 tile of C; for each k-tile,
// its threads stage a tile of A and a tile of B in shared memory, synchronise, and accumulate.
// Loads outside the matrices stage zeros, so M, N, K need not be multiples of 16.
#include <cuda_runtime.h>

#define TILE 16

__global__ void gemm(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
                     int M, int N, int K) {
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        int ka = k0 + tx;
        int kb = k0 + ty;
        As[ty][tx] = (row < M && ka < K) ? A[row * K + ka] : 0.0f;
        Bs[ty][tx] = (kb < K && col < N) ? B[kb * N + col] : 0.0f;
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TILE; kk += 1) {
            acc += As[ty][kk] * Bs[kk][tx];
        }
        __syncthreads();
    }
    if (row < M && col < N) {
        C[row * N + col] = acc;
    }
}
