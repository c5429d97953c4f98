// Batch normalisation on the CPU with batch statistics (training mode), NCHW, eps 1e-5:
// y = (x - mean_c) / sqrt(var_c + eps) * gamma[c] + beta[c], where mean_c and the biased var_c
// run over N, H and W of channel c. Channels are independent, so they are split across threads;
// each channel takes two passes for its statistics (sum, then centred squares) and one to write.
#include <math.h>
#include <omp.h>

void batchnorm(const float* __restrict__ x, const float* __restrict__ gamma,
               const float* __restrict__ beta, float* __restrict__ y, int N, int C, int H, int W) {
    int HW = H * W;
    float count = (float)(N * HW);
#pragma omp parallel for
    for (int c = 0; c < C; c += 1) {
        float sum = 0.0f;
        for (int n = 0; n < N; n += 1) {
            const float* plane = x + (n * C + c) * HW;
            for (int i = 0; i < HW; i += 1) {
                sum += plane[i];
            }
        }
        float mean = sum / count;
        float sq = 0.0f;
        for (int n = 0; n < N; n += 1) {
            const float* plane = x + (n * C + c) * HW;
            for (int i = 0; i < HW; i += 1) {
                float d = plane[i] - mean;
                sq += d * d;
            }
        }
        float scale = gamma[c] / sqrtf(sq / count + 1e-5f);
        float shift = beta[c] - mean * scale;
        for (int n = 0; n < N; n += 1) {
            int base = (n * C + c) * HW;
            for (int i = 0; i < HW; i += 1) {
                y[base + i] = x[base + i] * scale + shift;
            }
        }
    }
}
