// Row sums on the CPU: a reduction loop inside an OpenMP parallel loop.
void rowsum(const float* x, float* y, int rows, int cols) {
#pragma omp parallel for
    for (int r = 0; r < rows; r++) {
        float s = 0.0f;
        for (int c = 0; c < cols; c++) {
            s += x[r * cols + c];
        }
        y[r] = s;
    }
}
