void add2d(const float* a, const float* b, float* z, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            z[r * cols + c] = a[r * cols + c] - 3.0f * b[c * rows + r];
        }
    }
}
