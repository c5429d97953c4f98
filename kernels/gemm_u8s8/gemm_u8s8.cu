// Quantised GEMM on CUDA with __dp4a: C[i][j] = sum_k A[i][k] * B[j][k], exact in int32.
// A is uint8 (M x K), B is int8 stored N x K; K must be a multiple of 4 (and the buffers 4-byte
// aligned) because each step loads 4 packed bytes of a row of A and of a row of B as one int.
// __dp4a has signed x signed and unsigned x unsigned forms but no u8 x s8 one, so A is shifted
// into int8 (a - 128, i.e. the byte XOR 0x80) and the shift is added back as 128 * sum_k B[j][k],
// which a second __dp4a against 0x01010101 accumulates.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void gemm_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ B, int32_t* __restrict__ C,
                          int M, int N, int K) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    int row = blockIdx.y * blockDim.y + threadIdx.y;
    if (row < M && col < N) {
        int acc = 0;
        int bsum = 0;
        for (int k = 0; k < K; k += 4) {
            int a = *(const int*)&A[row * K + k] ^ 0x80808080;
            int b = *(const int*)&B[col * K + k];
            acc = __dp4a(a, b, acc);
            bsum = __dp4a(0x01010101, b, bsum);
        }
        C[row * N + col] = acc + 128 * bsum;
    }
}
