// Shared-memory tree reduction: one partial sum per 256-thread block; n = 1000 leaves the last
// block part-empty. The barrier sits inside the halving loop.
#define BLOCK 256
__global__ void blocksum(const float* x, float* partial, int n) {
    __shared__ float buf[BLOCK];
    int tid = threadIdx.x;
    int i = blockIdx.x * blockDim.x + tid;
    buf[tid] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) {
            buf[tid] += buf[tid + s];
        }
        __syncthreads();
    }
    if (tid == 0) {
        partial[blockIdx.x] = buf[0];
    }
}
