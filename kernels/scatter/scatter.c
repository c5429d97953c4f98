// Row scatter-add on the CPU: out[indices[i]][:] += src[i][:] (PyTorch's index_add_ along dim 0).
// Indices may repeat, so two source rows can land on the same output row: the loop over i is
// kept serial (in order, so the result is deterministic), and the contiguous inner loop over
// the row vectorises.
#include <stdint.h>

void scatter_add_rows(const float* __restrict__ src, const int32_t* __restrict__ indices,
                      float* __restrict__ out, int n, int dim) {
    for (int i = 0; i < n; i += 1) {
        int dst = indices[i] * dim;
        for (int d = 0; d < dim; d += 1) {
            out[dst + d] += src[i * dim + d];
        }
    }
}
