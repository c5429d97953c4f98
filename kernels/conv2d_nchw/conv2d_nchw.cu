// 2-D convolution on CUDA, NCHW input, OIHW weight [F, C, KH, KW], NCHW output, zero padding.
// Each 16x16 block computes a 16x16 tile of one output plane (n, f) (blockIdx.z = n * F + f).
// For every input channel the block stages the input patch its tile reads, (16 - 1) * stride + KH
// rows by (16 - 1) * stride + KW columns, in shared memory (zeros where the patch leaves the
// image), synchronises, and each thread accumulates its KH x KW window from the staged patch.
// The patch buffer is sized for stride <= 2 and filters up to 7x7.
#include <cuda_runtime.h>

#define TILE 16
#define MAX_STRIDE 2
#define MAX_K 7
#define PATCH ((TILE - 1) * MAX_STRIDE + MAX_K)

__global__ void __launch_bounds__(256) conv2d_nchw(const float* __restrict__ input, const float* __restrict__ weight,
                                                   float* __restrict__ output, int N, int C, int H, int W, int F,
                                                   int KH, int KW, int stride, int pad) {
    __shared__ float patch[PATCH][PATCH];
    int OH = (H + 2 * pad - KH) / stride + 1;
    int OW = (W + 2 * pad - KW) / stride + 1;
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int ow = blockIdx.x * TILE + tx;
    int oh = blockIdx.y * TILE + ty;
    int f = blockIdx.z % F;
    int n = blockIdx.z / F;
    int ih0 = blockIdx.y * TILE * stride - pad;
    int iw0 = blockIdx.x * TILE * stride - pad;
    int ph = (TILE - 1) * stride + KH;
    int pw = (TILE - 1) * stride + KW;
    float acc = 0.0f;
    for (int c = 0; c < C; c += 1) {
        const float* plane = input + (n * C + c) * H * W;
        for (int i = ty; i < ph; i += TILE) {
            for (int j = tx; j < pw; j += TILE) {
                int ih = ih0 + i;
                int iw = iw0 + j;
                patch[i][j] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? plane[ih * W + iw] : 0.0f;
            }
        }
        __syncthreads();
        const float* wc = weight + (f * C + c) * KH * KW;
        for (int r = 0; r < KH; r += 1) {
            for (int s = 0; s < KW; s += 1) {
                acc += patch[ty * stride + r][tx * stride + s] * wc[r * KW + s];
            }
        }
        __syncthreads();
    }
    if (oh < OH && ow < OW) {
        output[((n * F + f) * OH + oh) * OW + ow] = acc;
    }
}
