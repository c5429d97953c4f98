// Layer normalisation on CUDA over the last dim, one block per row (biased variance, eps 1e-5).
// Each reduction (sum, then sum of centred squares) is a strided per-thread partial, a
// shuffle-down tree inside each warp, then warp 0 reduces the per-warp results that the warps
// left in shared memory. Works for any blockDim.x that is a multiple of 32, up to 256.
#include <cuda_runtime.h>

#define MAX_WARPS 8

__device__ float warp_reduce_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(256) layernorm(const float* __restrict__ x, const float* __restrict__ gamma,
                                                 const float* __restrict__ beta, float* __restrict__ y,
                                                 int rows, int cols) {
    __shared__ float partial[MAX_WARPS];
    __shared__ float stats[2];
    int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    int lane = threadIdx.x % 32;
    int warp = threadIdx.x / 32;
    int nwarps = blockDim.x / 32;
    const float* xr = x + r * cols;

    // mean
    float s = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        s += xr[c];
    }
    s = warp_reduce_sum(s);
    if (lane == 0) {
        partial[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < nwarps ? partial[lane] : 0.0f;
        t = warp_reduce_sum(t);
        if (lane == 0) {
            stats[0] = t / (float)cols;
        }
    }
    __syncthreads();
    float mean = stats[0];

    // variance: centred squares, so no cancellation between E[x^2] and E[x]^2
    float sq = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float d = xr[c] - mean;
        sq += d * d;
    }
    sq = warp_reduce_sum(sq);
    if (lane == 0) {
        partial[warp] = sq;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < nwarps ? partial[lane] : 0.0f;
        t = warp_reduce_sum(t);
        if (lane == 0) {
            stats[1] = rsqrtf(t / (float)cols + 1e-5f);
        }
    }
    __syncthreads();
    float rstd = stats[1];

    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        y[r * cols + c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
    }
}
