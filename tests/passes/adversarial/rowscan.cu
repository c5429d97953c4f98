// One thread per row: a descending loop (suffix sums, a dependence carried inside the thread)
// then a loop that starts at 1 with stride 3. 37 rows do not fill the 32-thread blocks evenly.
__global__ void rowscan(const float* x, float* y, int rows, int cols) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r < rows) {
        float acc = 0.0f;
        for (int j = cols - 1; j >= 0; j--) {
            acc += x[r * cols + j];
            y[r * cols + j] = acc;
        }
        for (int j = 1; j < cols; j += 3) {
            y[r * cols + j] = 2.0f * y[r * cols + j] - x[r * cols + j - 1];
        }
    }
}
