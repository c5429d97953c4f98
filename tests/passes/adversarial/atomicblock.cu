// Two-level atomics: threads add into a shared counter, thread 0 adds the block's sum globally.
__global__ void atomicblock(const int* x, int* total, int n) {
    __shared__ int acc;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (threadIdx.x == 0) {
        acc = 0;
    }
    __syncthreads();
    if (i < n) {
        atomicAdd(&acc, x[i]);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        atomicAdd(total, acc);
    }
}
