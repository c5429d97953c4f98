// Row gather (an embedding lookup) on CUDA: out[i][:] = table[indices[i]][:]. One thread per
// output element with a grid-stride loop; consecutive threads copy consecutive elements of a
// row, so both the table reads and the output writes coalesce. The host launcher caps the grid
// and lets the stride cover the rest.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void gather_rows(const float* __restrict__ table, const int32_t* __restrict__ indices,
                            float* __restrict__ out, int n, int dim) {
    int total = n * dim;
    int stride = gridDim.x * blockDim.x;
    for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < total; e += stride) {
        int i = e / dim;
        int d = e % dim;
        out[e] = table[indices[i] * dim + d];
    }
}

void gather_rows_launch(const float* table, const int32_t* indices, float* out, int n, int dim) {
    int blocks = min((n * dim + 255) / 256, 1024);
    gather_rows<<<blocks, 256>>>(table, indices, out, n, dim);
}
