// The same on the CPU: rows are independent, the descending loop carries a dependence.
void rowscan(const float* x, float* y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        float acc = 0.0f;
        for (int j = cols - 1; j >= 0; --j) {
            acc = acc + x[r * cols + j];
            y[r * cols + j] = acc;
        }
        for (int j = 1; j < cols; j += 3) {
            y[r * cols + j] = 2.0f * y[r * cols + j] - x[r * cols + j - 1];
        }
    }
}
