#include <cuda_runtime.h>
// row sums, one warp per row, 4 warps per block, each warp loops over rows (warp-uniform bounds)
__global__ void rowsum(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    int lane = threadIdx.x % 32;
    int warp = threadIdx.x / 32;
    for (int r = warp; r < rows; r += 4) {
        float s = 0.0f;
        for (int c = lane; c < cols; c += 32) {
            s += x[r * cols + c];
        }
        for (int off = 16; off > 0; off >>= 1) {
            s += __shfl_xor_sync(0xffffffff, s, off);
        }
        if (lane == 0) {
            y[r] = s;
        }
    }
}
