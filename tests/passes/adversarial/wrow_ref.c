void rowsum(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    for (int r = 0; r < rows; r += 1) {
        float s = 0.0f;
        for (int c = 0; c < cols; c += 1) {
            s += x[r * cols + c];
        }
        y[r] = s;
    }
}
