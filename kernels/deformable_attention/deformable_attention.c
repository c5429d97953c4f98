// Single-scale deformable attention on the CPU (the sampling core of Deformable DETR's MSDeformAttn).
// value is [B, H*W, NH, D] (an H x W map flattened row-major, NH heads of D channels),
// sampling_loc is [B, Q, NH, P, 2] ((x, y) in normalised [0, 1] coordinates), attn_weight is
// [B, Q, NH, P] (already softmaxed), output is [B, Q, NH*D]:
//   output[b, q, n*D + d] = sum_p attn_weight[b, q, n, p] * bilinear(value[b, :, n, d], loc).
// Bilinear sampling as grid_sample(align_corners=False, padding zeros): the point (x, y) sits at
// pixel position (x * W - 0.5, y * H - 0.5); corners outside the map contribute zero.
// (batch, query) pairs run on OpenMP threads; per sampling point the four corner weights are
// computed once and the channel loop (contiguous in value and output) blends the corners.
#include <math.h>
#include <omp.h>

void deformable_attention(const float* __restrict__ value, const float* __restrict__ sampling_loc,
                          const float* __restrict__ attn_weight, float* __restrict__ output,
                          int B, int H, int W, int NH, int D, int Q, int P) {
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b += 1) {
        for (int qi = 0; qi < Q; qi += 1) {
            for (int n = 0; n < NH; n += 1) {
                int out = ((b * Q + qi) * NH + n) * D;
                for (int d = 0; d < D; d += 1) {
                    output[out + d] = 0.0f;
                }
                for (int p = 0; p < P; p += 1) {
                    int wi = ((b * Q + qi) * NH + n) * P + p;
                    float a = attn_weight[wi];
                    float h_im = sampling_loc[wi * 2 + 1] * (float)H - 0.5f;
                    float w_im = sampling_loc[wi * 2] * (float)W - 0.5f;
                    int h0 = (int)floorf(h_im);
                    int w0 = (int)floorf(w_im);
                    float lh = h_im - (float)h0;
                    float lw = w_im - (float)w0;
                    // corner weights, zero for a corner outside the map
                    float c00 = (h0 >= 0 && h0 < H && w0 >= 0 && w0 < W) ? a * (1.0f - lh) * (1.0f - lw) : 0.0f;
                    float c01 = (h0 >= 0 && h0 < H && w0 + 1 >= 0 && w0 + 1 < W) ? a * (1.0f - lh) * lw : 0.0f;
                    float c10 = (h0 + 1 >= 0 && h0 + 1 < H && w0 >= 0 && w0 < W) ? a * lh * (1.0f - lw) : 0.0f;
                    float c11 = (h0 + 1 >= 0 && h0 + 1 < H && w0 + 1 >= 0 && w0 + 1 < W) ? a * lh * lw : 0.0f;
                    // clamped pixel indices: a zero weight makes the value read irrelevant
                    int y0 = h0 < 0 ? 0 : (h0 > H - 1 ? H - 1 : h0);
                    int y1 = h0 + 1 < 0 ? 0 : (h0 + 1 > H - 1 ? H - 1 : h0 + 1);
                    int x0 = w0 < 0 ? 0 : (w0 > W - 1 ? W - 1 : w0);
                    int x1 = w0 + 1 < 0 ? 0 : (w0 + 1 > W - 1 ? W - 1 : w0 + 1);
                    const float* vb = value + (b * H * W * NH + n) * D;
                    int s = NH * D;
                    for (int d = 0; d < D; d += 1) {
                        output[out + d] += c00 * vb[(y0 * W + x0) * s + d] + c01 * vb[(y0 * W + x1) * s + d] +
                                           c10 * vb[(y1 * W + x0) * s + d] + c11 * vb[(y1 * W + x1) * s + d];
                    }
                }
            }
        }
    }
}
