// Broken source: the loop writes y[n], one past the end of the buffer.
void oob(const float* x, float* y, int n) {
    for (int i = 0; i <= n; i++) {
        y[i] = x[i < n ? i : 0];
    }
}
