void recur(float* a, const float* b, int n) {
    float acc = a[0];
    for (int i = 1; i < n; i++) {
        acc = acc + b[i];
        a[i] = acc;
    }
}
