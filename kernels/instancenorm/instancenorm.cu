// Instance normalisation on CUDA, NCHW, eps 1e-5: one block per (n, c) plane of H x W values.
// Each statistic (the sum, then the sum of centred squares) is a strided per-thread partial,
// reduced inside each warp with __shfl_down_sync; lane 0 of every warp parks its result in shared
// memory and warp 0 reduces those. The host launcher runs 128-thread blocks, one per plane.
#include <cuda_runtime.h>

#define THREADS 128
#define NWARPS (THREADS / 32)

__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_down_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(THREADS) instancenorm(const float* __restrict__ x,
                                                        const float* __restrict__ gamma,
                                                        const float* __restrict__ beta,
                                                        float* __restrict__ y, int N, int C, int H, int W) {
    __shared__ float warp_part[NWARPS];
    __shared__ float mean_s;
    __shared__ float rstd_s;
    int plane = blockIdx.x;
    int c = plane % C;
    int HW = H * W;
    int tid = threadIdx.x;
    int lane = tid % 32;
    int warp = tid / 32;
    const float* xp = x + plane * HW;

    float s = 0.0f;
    for (int i = tid; i < HW; i += THREADS) {
        s += xp[i];
    }
    s = warp_sum(s);
    if (lane == 0) {
        warp_part[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < NWARPS ? warp_part[lane] : 0.0f;
        t = warp_sum(t);
        if (lane == 0) {
            mean_s = t / (float)HW;
        }
    }
    __syncthreads();
    float mean = mean_s;

    float sq = 0.0f;
    for (int i = tid; i < HW; i += THREADS) {
        float d = xp[i] - mean;
        sq += d * d;
    }
    sq = warp_sum(sq);
    if (lane == 0) {
        warp_part[warp] = sq;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < NWARPS ? warp_part[lane] : 0.0f;
        t = warp_sum(t);
        if (lane == 0) {
            rstd_s = rsqrtf(t / (float)HW + 1e-5f);
        }
    }
    __syncthreads();
    float scale = rstd_s * gamma[c];
    float shift = beta[c] - mean * scale;

    for (int i = tid; i < HW; i += THREADS) {
        y[plane * HW + i] = xp[i] * scale + shift;
    }
}

void instancenorm_launch(const float* x, const float* gamma, const float* beta, float* y, int N, int C,
                         int H, int W) {
    instancenorm<<<N * C, THREADS>>>(x, gamma, beta, y, N, C, H, W);
}
