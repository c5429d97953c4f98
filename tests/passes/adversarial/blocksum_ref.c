void blocksum(const float* x, float* partial, int n) {
    for (int b = 0; b * 256 < n; b++) {
        double s = 0.0;
        for (int i = b * 256; i < n && i < (b + 1) * 256; i++) s += x[i];
        partial[b] = (float)s;
    }
}
