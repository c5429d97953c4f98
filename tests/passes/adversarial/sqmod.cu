// Non-affine indexing: y[i] = 2 * x[(i * i) % n]. n = 1000 does not divide the 256-thread block.
__global__ void sqmod(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = 2.0f * x[(i * i) % n];
    }
}
