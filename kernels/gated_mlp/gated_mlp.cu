// Gated MLP (SwiGLU feed-forward) on CUDA: h = silu(x W1^T) * (x W3^T), out = h W2^T, with
// x: T x D, W1 and W3: H x D, W2: D x H. One block per token, fused: the token's row of x is staged
// in shared memory; then each warp takes hidden units j in turn, its lanes stride over a
// contiguous row of W1 and W3 (coalesced) and a shuffle tree sums the two dot products; the gated
// activations go to shared memory (and to h); after a barrier the warps compute the output units
// the same way over rows of W2. Needs D <= MAX_D and H <= MAX_H.
#include <cuda_runtime.h>

#define THREADS 128
#define NWARPS (THREADS / 32)
#define MAX_D 256
#define MAX_H 1024

__device__ float silu(float z) {
    return z / (1.0f + expf(-z));
}

__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, off);
    }
    return v;
}

__global__ void __launch_bounds__(THREADS) gated_mlp(const float* __restrict__ x, const float* __restrict__ W1,
                                                     const float* __restrict__ W3, const float* __restrict__ W2,
                                                     float* __restrict__ h, float* __restrict__ out, int T,
                                                     int D, int H) {
    __shared__ float xs[MAX_D];
    __shared__ float hs[MAX_H];
    int t = blockIdx.x;
    int lane = threadIdx.x % 32;
    int warp = threadIdx.x / 32;

    for (int k = threadIdx.x; k < D; k += THREADS) {
        xs[k] = x[t * D + k];
    }
    __syncthreads();

    for (int j = warp; j < H; j += NWARPS) {
        const float* w1 = W1 + j * D;
        const float* w3 = W3 + j * D;
        float a = 0.0f;
        float g = 0.0f;
        for (int k = lane; k < D; k += 32) {
            a += xs[k] * w1[k];
            g += xs[k] * w3[k];
        }
        a = warp_sum(a);
        g = warp_sum(g);
        if (lane == 0) {
            float v = silu(a) * g;
            hs[j] = v;
            h[t * H + j] = v;
        }
    }
    __syncthreads();

    for (int d = warp; d < D; d += NWARPS) {
        const float* w2 = W2 + d * H;
        float acc = 0.0f;
        for (int j = lane; j < H; j += 32) {
            acc += hs[j] * w2[j];
        }
        acc = warp_sum(acc);
        if (lane == 0) {
            out[t * D + d] = acc;
        }
    }
}

void gated_mlp_launch(const float* x, const float* W1, const float* W3, const float* W2, float* h, float* out,
                      int T, int D, int H) {
    gated_mlp<<<T, THREADS>>>(x, W1, W3, W2, h, out, T, D, H);
}
