// 1-D convolution on the CPU: input [N, C, L], weight [F, C, K], output [N, F, OL] with
// OL = (L + 2 * pad - K) / stride + 1; positions outside the input read as zero.
// Plain loops: the (n, f) pairs are split across threads; each output is one dot product over
// the channels and filter taps, with a bounds check for the padded edges.
#include <omp.h>

void conv1d(const float* __restrict__ input, const float* __restrict__ weight, float* __restrict__ output,
            int N, int C, int L, int F, int K, int stride, int pad) {
    int OL = (L + 2 * pad - K) / stride + 1;
#pragma omp parallel for collapse(2)
    for (int n = 0; n < N; n += 1) {
        for (int f = 0; f < F; f += 1) {
            for (int o = 0; o < OL; o += 1) {
                float acc = 0.0f;
                for (int c = 0; c < C; c += 1) {
                    const float* xr = input + (n * C + c) * L;
                    const float* wr = weight + (f * C + c) * K;
                    for (int k = 0; k < K; k += 1) {
                        int i = o * stride - pad + k;
                        if (i >= 0 && i < L) {
                            acc += xr[i] * wr[k];
                        }
                    }
                }
                output[(n * F + f) * OL + o] = acc;
            }
        }
    }
}
