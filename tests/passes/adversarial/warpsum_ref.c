void warpsum(const float* x, float* out, int n) {
    for (int w = 0; w < 32; w++) {
        double s = 0.0;
        for (int i = 32 * w; i < 32 * w + 32 && i < n; i++) s += x[i];
        out[w] = (float)s;
    }
}
