// Row sums, one block per row; the grid has 2 blocks too many, which leave by a guard that is
// uniform per block, before a body with barriers (tree reduction in shared memory).
#define BLOCK 64
__global__ void rowsum(const float* x, float* y, int rows, int cols) {
    __shared__ float buf[BLOCK];
    int r = blockIdx.x;
    if (r >= rows) return;
    int tid = threadIdx.x;
    float s = 0.0f;
    for (int c = tid; c < cols; c += blockDim.x) {
        s += x[r * cols + c];
    }
    buf[tid] = s;
    __syncthreads();
    for (int h = BLOCK / 2; h > 0; h >>= 1) {
        if (tid < h) buf[tid] += buf[tid + h];
        __syncthreads();
    }
    if (tid == 0) y[r] = buf[0];
}
