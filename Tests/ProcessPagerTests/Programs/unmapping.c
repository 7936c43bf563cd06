/* Memory given back: munmap, then mmap again at the same place; madvise(DONTNEED) and
 * madvise(FREE). Pages touched again read as zeros, never as their old swapped-out bytes.
 * Prints "unmap ok". */
#include "program.h"
#include <sys/mman.h>

static int all_zero(const uint64_t *words, size_t count) {
    for (size_t i = 0; i < count; i++) if (words[i] != 0) return 0;
    return 1;
}

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 32);
    size_t bytes = mib << 20, words = bytes / 8, half = words / 2;
    uint64_t *area = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) { printf("FAIL mmap\n"); return 1; }
    fill(area, words, 31);
    push_out(2 * mib);
    madvise(area, bytes / 4, MADV_DONTNEED);
    if (!all_zero(area, words / 4)) { printf("FAIL DONTNEED left old bytes\n"); return 1; }
    madvise((char *)area + bytes / 4, bytes / 4, MADV_FREE);
    for (size_t i = words / 4; i < half; i++) {
        if (area[i] != 0 && area[i] != pattern(31, i)) { printf("FAIL FREE gave a foreign value\n"); return 1; }
    }
    fill(area + words / 4, words / 4, 32);
    push_out(2 * mib);
    if (mismatches(area + words / 4, words / 4, 32) != 0) { printf("FAIL rewrite after FREE\n"); return 1; }
    munmap((char *)area + bytes / 2, bytes / 2);
    uint64_t *again = mmap((char *)area + bytes / 2, bytes / 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (again == MAP_FAILED) { printf("FAIL mmap again\n"); return 1; }
    if (!all_zero(again, half)) { printf("FAIL a new mapping showed old bytes\n"); return 1; }
    fill(again, half, 33);
    push_out(2 * mib);
    if (mismatches(again, half, 33) != 0) { printf("FAIL new mapping lost pages\n"); return 1; }
    munmap(area, bytes);
    printf("unmap ok\n");
    return 0;
}
