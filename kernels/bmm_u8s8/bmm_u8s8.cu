// Quantised batched GEMM on CUDA with __dp4a: C[b][i][j] = sum_k A[b][i][k] * B[b][j][k], exact.
// A is uint8 (batch x M x K), B is int8 stored batch x N x K; K must be a multiple of 4 (4 packed
// bytes per load). One thread per output, blockIdx.z over the batch. As in gemm_u8s8, A's bytes
// are shifted into int8 by XOR 0x80 and 128 * sum_k B[b][j][k] is added back. The host launcher
// takes the kernel's parameters and builds the 3-D grid.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void bmm_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ B, int32_t* __restrict__ C,
                         int batch, int M, int N, int K) {
    int b = blockIdx.z;
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (b < batch && row < M && col < N) {
        const uint8_t* a = A + (b * M + row) * K;
        const int8_t* w = B + (b * N + col) * K;
        int acc = 0;
        int wsum = 0;
        for (int k = 0; k < K; k += 4) {
            int av = *(const int*)&a[k] ^ 0x80808080;
            int wv = *(const int*)&w[k];
            acc = __dp4a(av, wv, acc);
            wsum = __dp4a(0x01010101, wv, wsum);
        }
        C[(b * M + row) * N + col] = acc + 128 * wsum;
    }
}

void bmm_u8s8_launch(const uint8_t* A, const int8_t* B, int32_t* C, int batch, int M, int N, int K) {
    dim3 block(16, 16, 1);
    dim3 grid((N + 15) / 16, (M + 15) / 16, batch);
    bmm_u8s8<<<grid, block>>>(A, B, C, batch, M, N, K);
}
