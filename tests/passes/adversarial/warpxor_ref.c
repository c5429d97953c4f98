void warpxor(const float* x, float* y, int n) {
    for (int w = 0; w * 32 < n; w++) {
        float m = -1.0e30f;
        for (int i = 32 * w; i < 32 * w + 32 && i < n; i++) m = x[i] > m ? x[i] : m;
        for (int i = 32 * w; i < 32 * w + 32 && i < n; i++) y[i] = m;
    }
}
