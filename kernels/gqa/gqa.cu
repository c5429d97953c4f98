// Grouped-query attention on CUDA: q is [B, HQ, S, D], k and v are [B, HKV, S, D] with HQ a
// multiple of HKV; query head hq reads kv head hq / (HQ / HKV). o = softmax(q k^T / sqrt(D)) v.
// One warp per query row, four rows per block, flash-decoding style: the lanes score 32 keys at
// a time, the tile max and the tile sum are __shfl_xor_sync butterflies, and an online softmax
// (running max m, running sum l, rescaled accumulators) makes one pass over the keys. Each lane
// owns the output channels lane, lane + 32, ... in registers; the probabilities of a tile are
// broadcast with __shfl_sync while the warp reads rows of v (coalesced). D <= MAX_D.
#include <cuda_runtime.h>

#define ROWS 4
#define MAX_D 128
#define CHUNKS (MAX_D / 32)

__device__ float warp_max(float x) {
    for (int off = 16; off > 0; off >>= 1) {
        x = fmaxf(x, __shfl_xor_sync(0xffffffff, x, off));
    }
    return x;
}

__device__ float warp_sum(float x) {
    for (int off = 16; off > 0; off >>= 1) {
        x += __shfl_xor_sync(0xffffffff, x, off);
    }
    return x;
}

__global__ void __launch_bounds__(128) gqa(const float* __restrict__ q, const float* __restrict__ k,
                                           const float* __restrict__ v, float* __restrict__ o,
                                           int B, int HQ, int HKV, int S, int D) {
    __shared__ float qs[ROWS][MAX_D];
    int lane = threadIdx.x;
    int w = threadIdx.y;
    int i = blockIdx.x * ROWS + w;
    int hq = blockIdx.y;
    int b = blockIdx.z;
    int hkv = hq / (HQ / HKV);
    const float* kh = k + (b * HKV + hkv) * S * D;
    const float* vh = v + (b * HKV + hkv) * S * D;
    int row = ((b * HQ + hq) * S + i) * D;
    float scale = rsqrtf((float)D);
    if (i < S) {
        for (int d = lane; d < D; d += 32) {
            qs[w][d] = q[row + d] * scale;
        }
    }
    __syncthreads();
    if (i >= S) {
        return;
    }

    float m = -3.402823466e+38f;
    float l = 0.0f;
    float acc[CHUNKS];
    for (int t = 0; t < CHUNKS; t += 1) {
        acc[t] = 0.0f;
    }
    for (int j0 = 0; j0 < S; j0 += 32) {
        int j = j0 + lane;
        float s = -3.402823466e+38f;
        if (j < S) {
            float dot = 0.0f;
            for (int d = 0; d < D; d += 1) {
                dot += qs[w][d] * kh[j * D + d];
            }
            s = dot;
        }
        float mnew = fmaxf(m, warp_max(s));
        float corr = expf(m - mnew);
        float p = j < S ? expf(s - mnew) : 0.0f;
        l = l * corr + warp_sum(p);
        for (int t = 0; t < CHUNKS; t += 1) {
            acc[t] *= corr;
        }
        int n = S - j0 < 32 ? S - j0 : 32;
        for (int jj = 0; jj < n; jj += 1) {
            float pj = __shfl_sync(0xffffffff, p, jj);
            for (int t = 0; t < CHUNKS; t += 1) {
                int c = lane + 32 * t;
                if (c < D) {
                    acc[t] += pj * vh[(j0 + jj) * D + c];
                }
            }
        }
        m = mnew;
    }
    float inv = 1.0f / l;
    for (int t = 0; t < CHUNKS; t += 1) {
        int c = lane + 32 * t;
        if (c < D) {
            o[row + c] = acc[t] * inv;
        }
    }
}

void gqa_launch(const float* q, const float* k, const float* v, float* o, int B, int HQ, int HKV, int S,
                int D) {
    dim3 block(32, ROWS);
    dim3 grid((S + ROWS - 1) / ROWS, HQ, B);
    gqa<<<grid, block>>>(q, k, v, o, B, HQ, HKV, S, D);
}
