// Butterfly all-reduce with __shfl_xor_sync: every lane ends with its warp's maximum.
__global__ void warpxor(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : -1.0e30f;
    for (int mask = 1; mask < 32; mask <<= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, mask));
    }
    if (i < n) {
        y[i] = v;
    }
}
