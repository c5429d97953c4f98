// A broken relu: negatives come back unchanged (the "else" branch returns x).
__global__ void wrongrelu(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = x[i] >= 0.0f ? x[i] : x[i];
    }
}
