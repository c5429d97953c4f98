// A loop from 1 with stride 3 that reads what the previous nest wrote at i - 1 (never written
// by itself), and a descending loop with stride 2.
void strided(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) {
        y[i] = x[i];
    }
    for (int i = 1; i < n; i += 3) {
        y[i] = 2.0f * x[i] - y[i - 1];
    }
    for (int i = n - 1; i >= 0; i -= 2) {
        y[i] = y[i] + 0.5f * x[n - 1 - i];
    }
}
