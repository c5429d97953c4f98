// Indirect indexing: y[i] = x[idx[i]], the index read from another buffer.
__global__ void gather(const float* x, const int* idx, float* y, int m) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < m) {
        y[i] = x[idx[i]];
    }
}
