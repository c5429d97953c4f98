#include <stdint.h>

void shadow(const float* restrict x, float* restrict y, int n) {
    float buf[32];
    float exchange[32];
    float acc_per_thread[32];
    int d_per_thread[32];
    float p_per_thread[32];
    for (unsigned int tx = 0u; tx < 32u; tx++) {
        int lane = tx;
        for (int d = lane; d < n; d += 32) {
            buf[d_per_thread[tx]] = x[d_per_thread[tx]];
        }
    }
    #pragma omp parallel for
    for (unsigned int tx = 0u; tx < 32u; tx++) {
        int lane = tx;
        p_per_thread[tx] = buf[lane];
        acc_per_thread[tx] = 0.0f;
    }
    for (int jj = 0; jj < 32; jj++) {
        #pragma omp parallel for
        for (unsigned int tx = 0u; tx < 32u; tx++) {
            exchange[tx] = p_per_thread[tx];
        }
        #pragma omp parallel for
        for (unsigned int tx = 0u; tx < 32u; tx++) {
            int lane = tx;
            float pj = exchange[tx - tx % 32u + jj % 32];
            d_per_thread[tx] = lane;
            acc_per_thread[tx] += pj * x[d_per_thread[tx]];
        }
    }
    #pragma omp parallel for
    for (unsigned int tx = 0u; tx < 32u; tx++) {
        int lane = tx;
        y[lane] = acc_per_thread[tx];
    }
}
