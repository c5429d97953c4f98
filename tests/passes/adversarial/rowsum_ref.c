void rowsum(const float* x, float* y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double s = 0.0;
        for (int c = 0; c < cols; c++) s += x[r * cols + c];
        y[r] = (float)s;
    }
}
