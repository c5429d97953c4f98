void add2d(const float* a, const float* b, float* z, int rows, int cols) {
    for (int k = 0; k < rows * cols; k++) {
        int r = k / cols, c = k % cols;
        z[k] = a[k] - 3.0f * b[c * rows + r];
    }
}
