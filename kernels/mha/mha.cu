// Multi-head attention on CUDA, o = softmax(q k^T / sqrt(D)) v per (batch, head), no mask.
// q, k, v, o are [B, H, S, D] (already projected). One block per (query row, head, batch):
// the query row is staged in shared memory, each thread scores a strided set of keys into a
// shared score row, the row max and the sum of exponentials are block reductions (a
// __shfl_xor_sync butterfly inside each warp, then across warps through shared memory), and
// finally each thread produces a strided set of output channels from the probabilities.
// Limits: S <= MAX_S and D <= MAX_D (the shared rows); blockDim.x a multiple of 32, <= 128.
#include <cuda_runtime.h>

#define MAX_S 1024
#define MAX_D 128
#define WARPS 4

__device__ float warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, off));
    }
    return v;
}

__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(128) mha(const float* __restrict__ q, const float* __restrict__ k,
                                           const float* __restrict__ v, float* __restrict__ o,
                                           int B, int H, int S, int D) {
    __shared__ float qs[MAX_D];
    __shared__ float scores[MAX_S];
    __shared__ float partial[WARPS];
    __shared__ float total;
    int i = blockIdx.x;
    int h = blockIdx.y;
    int b = blockIdx.z;
    if (i >= S) {
        return;
    }
    int tid = threadIdx.x;
    int lane = tid % 32;
    int warp = tid / 32;
    int nwarps = blockDim.x / 32;
    int head = (b * H + h) * S * D;
    const float* kh = k + head;
    const float* vh = v + head;
    float scale = rsqrtf((float)D);

    for (int d = tid; d < D; d += blockDim.x) {
        qs[d] = q[head + i * D + d];
    }
    __syncthreads();

    // 1. scores and their max
    float m = -3.402823466e+38f;
    for (int j = tid; j < S; j += blockDim.x) {
        float dot = 0.0f;
        for (int d = 0; d < D; d += 1) {
            dot += qs[d] * kh[j * D + d];
        }
        float sc = dot * scale;
        scores[j] = sc;
        m = fmaxf(m, sc);
    }
    m = warp_max(m);
    if (lane == 0) {
        partial[warp] = m;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < nwarps ? partial[lane] : -3.402823466e+38f;
        t = warp_max(t);
        if (lane == 0) {
            total = t;
        }
    }
    __syncthreads();
    float rmax = total;
    __syncthreads();

    // 2. exponentials and their sum
    float s = 0.0f;
    for (int j = tid; j < S; j += blockDim.x) {
        float e = expf(scores[j] - rmax);
        scores[j] = e;
        s += e;
    }
    s = warp_sum(s);
    if (lane == 0) {
        partial[warp] = s;
    }
    __syncthreads();
    if (warp == 0) {
        float t = lane < nwarps ? partial[lane] : 0.0f;
        t = warp_sum(t);
        if (lane == 0) {
            total = t;
        }
    }
    __syncthreads();
    float inv = 1.0f / total;

    // 3. o[i, d] = sum_j p[j] v[j, d] (consecutive threads read consecutive channels of v)
    for (int d = tid; d < D; d += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < S; j += 1) {
            acc += scores[j] * vh[j * D + d];
        }
        o[head + i * D + d] = acc * inv;
    }
}
