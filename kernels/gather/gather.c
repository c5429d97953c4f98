// Row gather (an embedding lookup) on the CPU: out[i][:] = table[indices[i]][:]. Output rows are
// independent, so they are split across OpenMP threads; each row is a contiguous copy.
#include <omp.h>
#include <stdint.h>

void gather_rows(const float* __restrict__ table, const int32_t* __restrict__ indices,
                 float* __restrict__ out, int n, int dim) {
#pragma omp parallel for
    for (int i = 0; i < n; i += 1) {
        const float* src = table + indices[i] * dim;
        for (int d = 0; d < dim; d += 1) {
            out[i * dim + d] = src[d];
        }
    }
}
