void rowscan(const float* x, float* y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const float* xr = x + r * cols;
        float* yr = y + r * cols;
        yr[cols - 1] = xr[cols - 1];
        for (int j = cols - 2; j >= 0; j--) yr[j] = yr[j + 1] + xr[j];
        for (int j = 0; j < cols; j++) {
            if (j % 3 == 1) yr[j] = 2.0f * yr[j] - xr[j - 1];
        }
    }
}
