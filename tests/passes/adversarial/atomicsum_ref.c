void atomicsum(const int* x, int* total, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    total[0] += s;
}
