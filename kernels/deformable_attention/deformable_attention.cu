// Single-scale deformable attention on CUDA (the sampling core of Deformable DETR's MSDeformAttn).
// value is [B, H*W, NH, D] (an H x W map flattened row-major, NH heads of D channels),
// sampling_loc is [B, Q, NH, P, 2] ((x, y) in normalised [0, 1] coordinates), attn_weight is
// [B, Q, NH, P] (already softmaxed), output is [B, Q, NH*D]:
//   output[b, q, n*D + d] = sum_p attn_weight[b, q, n, p] * bilinear(value[b, :, n, d], loc).
// Bilinear sampling as grid_sample(align_corners=False, padding zeros): the point (x, y) sits at
// pixel position (x * W - 0.5, y * H - 0.5); corners outside the map contribute zero.
// One thread per output element (d fastest, so a warp reads consecutive channels of a pixel)
// with a grid-stride loop; the host launcher caps the grid at 4096 blocks.
#include <cuda_runtime.h>

__device__ float sample_bilinear(const float* __restrict__ value, int base, int H, int W, int NH, int D,
                                 float h_im, float w_im) {
    int h0 = (int)floorf(h_im);
    int w0 = (int)floorf(w_im);
    float lh = h_im - (float)h0;
    float lw = w_im - (float)w0;
    float hh = 1.0f - lh;
    float hw = 1.0f - lw;
    int stride = NH * D;  // from one pixel to the next
    float v1 = 0.0f;
    float v2 = 0.0f;
    float v3 = 0.0f;
    float v4 = 0.0f;
    if (h0 >= 0 && w0 >= 0) {
        v1 = value[base + (h0 * W + w0) * stride];
    }
    if (h0 >= 0 && w0 + 1 <= W - 1) {
        v2 = value[base + (h0 * W + w0 + 1) * stride];
    }
    if (h0 + 1 <= H - 1 && w0 >= 0) {
        v3 = value[base + ((h0 + 1) * W + w0) * stride];
    }
    if (h0 + 1 <= H - 1 && w0 + 1 <= W - 1) {
        v4 = value[base + ((h0 + 1) * W + w0 + 1) * stride];
    }
    return hh * hw * v1 + hh * lw * v2 + lh * hw * v3 + lh * lw * v4;
}

__global__ void deformable_attention(const float* __restrict__ value, const float* __restrict__ sampling_loc,
                                     const float* __restrict__ attn_weight, float* __restrict__ output,
                                     int B, int H, int W, int NH, int D, int Q, int P) {
    int total = B * Q * NH * D;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += blockDim.x * gridDim.x) {
        int d = idx % D;
        int n = (idx / D) % NH;
        int qi = (idx / (D * NH)) % Q;
        int b = idx / (D * NH * Q);
        int base = (b * H * W * NH + n) * D + d;  // value[b, 0, n, d]
        int wq = ((b * Q + qi) * NH + n) * P;      // attn_weight[b, qi, n, 0]
        float acc = 0.0f;
        for (int p = 0; p < P; p += 1) {
            float x = sampling_loc[(wq + p) * 2];
            float y = sampling_loc[(wq + p) * 2 + 1];
            float h_im = y * (float)H - 0.5f;
            float w_im = x * (float)W - 0.5f;
            if (h_im > -1.0f && w_im > -1.0f && h_im < (float)H && w_im < (float)W) {
                acc += attn_weight[wq + p] * sample_bilinear(value, base, H, W, NH, D, h_im, w_im);
            }
        }
        output[idx] = acc;
    }
}

void deformable_attention_launch(const float* value, const float* sampling_loc, const float* attn_weight,
                                 float* output, int B, int H, int W, int NH, int D, int Q, int P) {
    int total = B * Q * NH * D;
    int blocks = min((total + 255) / 256, 4096);
    deformable_attention<<<blocks, 256>>>(value, sampling_loc, attn_weight, output, B, H, W, NH, D, Q, P);
}
