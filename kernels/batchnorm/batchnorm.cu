// Batch normalisation on CUDA with batch statistics (training mode), NCHW, eps 1e-5.
// One block per channel: its threads stride over the N * H * W values of the channel, then a
// shared-memory tree halves the per-thread partials until thread 0 holds the total (first the
// sum, then the sum of centred squares). The block size must be a power of two up to 256.
#include <cuda_runtime.h>

#define BLOCK 256

__global__ void __launch_bounds__(BLOCK) batchnorm(const float* __restrict__ x,
                                                   const float* __restrict__ gamma,
                                                   const float* __restrict__ beta,
                                                   float* __restrict__ y, int N, int C, int H, int W) {
    __shared__ float buf[BLOCK];
    int c = blockIdx.x;
    int tid = threadIdx.x;
    int HW = H * W;
    int count = N * HW;

    // mean: element k of the channel is (n, i) = (k / HW, k % HW)
    float s = 0.0f;
    for (int k = tid; k < count; k += blockDim.x) {
        s += x[((k / HW) * C + c) * HW + k % HW];
    }
    buf[tid] = s;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (tid < half) {
            buf[tid] += buf[tid + half];
        }
        __syncthreads();
    }
    float mean = buf[0] / (float)count;
    __syncthreads();

    // biased variance from centred squares
    float sq = 0.0f;
    for (int k = tid; k < count; k += blockDim.x) {
        float d = x[((k / HW) * C + c) * HW + k % HW] - mean;
        sq += d * d;
    }
    buf[tid] = sq;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if (tid < half) {
            buf[tid] += buf[tid + half];
        }
        __syncthreads();
    }
    float scale = gamma[c] * rsqrtf(buf[0] / (float)count + 1e-5f);
    float shift = beta[c] - mean * scale;

    for (int k = tid; k < count; k += blockDim.x) {
        int idx = ((k / HW) * C + c) * HW + k % HW;
        y[idx] = x[idx] * scale + shift;
    }
}
