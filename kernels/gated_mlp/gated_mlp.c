// Gated MLP (SwiGLU feed-forward) on the CPU: h = silu(x W1^T) * (x W3^T), out = h W2^T,
// with x: T x D, W1 and W3: H x D, W2: D x H (rows are output features, as in nn.Linear), so every
// dot product walks two contiguous rows. Tokens are independent and split across threads; each
// token computes its hidden row (kept in h, which is also an output) and then its output row.
#include <math.h>
#include <omp.h>

static inline float silu(float z) {
    return z / (1.0f + expf(-z));
}

void gated_mlp(const float* __restrict__ x, const float* __restrict__ W1, const float* __restrict__ W3,
               const float* __restrict__ W2, float* __restrict__ h, float* __restrict__ out, int T, int D,
               int H) {
#pragma omp parallel for
    for (int t = 0; t < T; t += 1) {
        const float* xt = x + t * D;
        for (int j = 0; j < H; j += 1) {
            const float* w1 = W1 + j * D;
            const float* w3 = W3 + j * D;
            float a = 0.0f;
            float g = 0.0f;
            for (int k = 0; k < D; k += 1) {
                a += xt[k] * w1[k];
                g += xt[k] * w3[k];
            }
            h[t * H + j] = silu(a) * g;
        }
        for (int d = 0; d < D; d += 1) {
            const float* w2 = W2 + d * H;
            float acc = 0.0f;
            for (int j = 0; j < H; j += 1) {
                acc += h[t * H + j] * w2[j];
            }
            out[t * D + d] = acc;
        }
    }
}
