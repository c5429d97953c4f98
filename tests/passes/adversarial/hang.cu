// Broken source: j runs around 0..n-1 forever; the loop stores every step so no compiler may
// delete it.
__global__ void hang(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        y[i] = 0.0f;
        int j = 0;
        while (j < n) {
            y[i] = y[i] + x[j];
            j = (j + 1) % n;
        }
    }
}
