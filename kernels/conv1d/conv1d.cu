// 1-D convolution on CUDA: input [N, C, L], weight [F, C, K], output [N, F, OL] with
// OL = (L + 2 * pad - K) / stride + 1; positions outside the input read as zero.
// One thread per output with a grid-stride loop: the output position varies fastest across
// threads, so a warp reads neighbouring inputs and one weight (a broadcast). The host launcher
// caps the grid; the stride loop covers whatever the grid does not.
#include <cuda_runtime.h>

__global__ void conv1d(const float* __restrict__ input, const float* __restrict__ weight,
                       float* __restrict__ output, int N, int C, int L, int F, int K, int stride, int pad) {
    int OL = (L + 2 * pad - K) / stride + 1;
    int total = N * F * OL;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += blockDim.x * gridDim.x) {
        int o = idx % OL;
        int f = (idx / OL) % F;
        int n = idx / (OL * F);
        float acc = 0.0f;
        for (int c = 0; c < C; c += 1) {
            for (int k = 0; k < K; k += 1) {
                int i = o * stride - pad + k;
                if (i >= 0 && i < L) {
                    acc += input[(n * C + c) * L + i] * weight[(f * C + c) * K + k];
                }
            }
        }
        output[idx] = acc;
    }
}

void conv1d_launch(const float* input, const float* weight, float* output, int N, int C, int L, int F,
                   int K, int stride, int pad) {
    int OL = (L + 2 * pad - K) / stride + 1;
    int blocks = min((N * F * OL + 255) / 256, 1024);
    conv1d<<<blocks, 256>>>(input, weight, output, N, C, L, F, K, stride, pad);
}
