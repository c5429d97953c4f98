// Row scatter-add on CUDA: out[indices[i]][:] += src[i][:] (PyTorch's index_add_ along dim 0).
// One thread per source element on a 2-D grid (x over the row, y over source rows). Indices may
// repeat, so several threads can add into the same output element: atomicAdd makes each update
// indivisible. The order of the additions varies, so the result matches a serial sum only up to
// fp32 rounding.
#include <cuda_runtime.h>
#include <stdint.h>

__global__ void scatter_add_rows(const float* __restrict__ src, const int32_t* __restrict__ indices,
                                 float* __restrict__ out, int n, int dim) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    int i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < n && d < dim) {
        atomicAdd(&out[indices[i] * dim + d], src[i * dim + d]);
    }
}
