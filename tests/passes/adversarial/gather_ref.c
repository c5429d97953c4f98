void gather(const float* x, const int* idx, float* y, int m) {
    for (int i = 0; i < m; i++) {
        int k = idx[i];
        y[i] = x[k];
    }
}
