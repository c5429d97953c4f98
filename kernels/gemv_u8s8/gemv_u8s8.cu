// Quantised GEMV on CUDA with __dp4a: y[i] = sum_k A[i][k] * x[k], exact in int32.
// A is uint8 (M x K), x is int8 (K); K must be a multiple of 4 (and the buffers 4-byte aligned):
// each lane loads 4 packed bytes of the row and of x as one int. One warp per row, lanes striding
// 128 bytes; the lane sums are combined with __shfl_xor_sync. __dp4a has no u8 x s8 form, so the
// bytes of A are shifted into int8 (XOR 0x80 = a - 128) and 128 * sum_k x[k] is added back,
// accumulated by a second __dp4a against 0x01010101.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void gemv_u8s8(const uint8_t* __restrict__ A, const int8_t* __restrict__ x, int32_t* __restrict__ y,
                          int M, int K) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row < M) {
        int acc = 0;
        int xsum = 0;
        for (int k = lane * 4; k < K; k += 128) {
            int a = *(const int*)&A[row * K + k] ^ 0x80808080;
            int b = *(const int*)&x[k];
            acc = __dp4a(a, b, acc);
            xsum = __dp4a(0x01010101, b, xsum);
        }
        int s = acc + 128 * xsum;
        for (int off = 16; off > 0; off >>= 1) {
            s += __shfl_xor_sync(0xffffffff, s, off);
        }
        if (lane == 0) {
            y[row] = s;
        }
    }
}
