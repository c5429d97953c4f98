// Multi-head attention on the CPU, o = softmax(q k^T / sqrt(D)) v per (batch, head), no mask.
// q, k, v, o are [B, H, S, D] (already projected). (batch, head) pairs are split across OpenMP
// threads; for each query row the scores go to a row buffer on the stack, the softmax subtracts
// the row max (stable for any input), and the output row accumulates p[j] * v[j, :] with the
// channel loop innermost (unit stride, vectorised by the compiler). Limit: S <= MAX_S.
#include <math.h>
#include <omp.h>

#define MAX_S 1024

void mha(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
         float* __restrict__ o, int B, int H, int S, int D) {
    float scale = 1.0f / sqrtf((float)D);
#pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b += 1) {
        for (int h = 0; h < H; h += 1) {
            float p[MAX_S];
            int head = (b * H + h) * S * D;
            for (int i = 0; i < S; i += 1) {
                const float* qi = q + head + i * D;
                float m = -3.402823466e+38f;
                for (int j = 0; j < S; j += 1) {
                    float dot = 0.0f;
                    for (int d = 0; d < D; d += 1) {
                        dot += qi[d] * k[head + j * D + d];
                    }
                    p[j] = dot * scale;
                    m = fmaxf(m, p[j]);
                }
                float s = 0.0f;
                for (int j = 0; j < S; j += 1) {
                    p[j] = expf(p[j] - m);
                    s += p[j];
                }
                float inv = 1.0f / s;
                for (int d = 0; d < D; d += 1) {
                    o[head + i * D + d] = 0.0f;
                }
                for (int j = 0; j < S; j += 1) {
                    float w = p[j] * inv;
                    for (int d = 0; d < D; d += 1) {
                        o[head + i * D + d] += w * v[head + j * D + d];
                    }
                }
            }
        }
    }
}
