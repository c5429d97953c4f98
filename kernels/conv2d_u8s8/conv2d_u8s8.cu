// Quantised 2-D convolution on CUDA with __dp4a, exact in int32: u8 NHWC activations
// [N, H, W, C] x s8 weights [F, KH, KW, C] -> s32 NHWC output [N, OH, OW, F], zero padding.
// One thread per output element, filter fastest. C must be a multiple of 4 (and the buffers
// 4-byte aligned): each step loads 4 packed channels of the input pixel and of the filter tap as
// one int. __dp4a has no u8 x s8 form, so the activations are shifted into int8 (byte XOR 0x80,
// i.e. a - 128) and 128 * (sum of the weights of the taps inside the image) is added back; a
// second __dp4a against 0x01010101 accumulates that sum. Padded taps are skipped entirely.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void conv2d_u8s8(const uint8_t* __restrict__ input, const int8_t* __restrict__ weight,
                            int32_t* __restrict__ output, int N, int H, int W, int C, int F, int KH, int KW,
                            int stride, int pad) {
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= N * OH * OW * F) {
        return;
    }
    int f = idx % F;
    int ow = (idx / F) % OW;
    int oh = (idx / (F * OW)) % OH;
    int n = idx / (F * OW * OH);
    int acc = 0;
    int wsum = 0;
    for (int r = 0; r < KH; r += 1) {
        int ih = oh * stride - pad + r;
        for (int s = 0; s < KW; s += 1) {
            int iw = ow * stride - pad + s;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                const uint8_t* px = input + ((n * H + ih) * W + iw) * C;
                const int8_t* wk = weight + ((f * KH + r) * KW + s) * C;
                for (int c = 0; c < C; c += 4) {
                    int a = *(const int*)&px[c] ^ 0x80808080;
                    int b = *(const int*)&wk[c];
                    acc = __dp4a(a, b, acc);
                    wsum = __dp4a(0x01010101, b, wsum);
                }
            }
        }
    }
    output[idx] = acc + 128 * wsum;
}
