/* mremap growth: a mapping filled, pushed out, grown (moved) twice, and shrunk; its pages
 * follow it. Prints "mremap ok". */
#define _GNU_SOURCE
#include "program.h"
#include <sys/mman.h>

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 16);
    size_t bytes = mib << 20, words = bytes / 8;
    uint64_t *area = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(area, words, 41);
    /* a neighbour so that growing in place is impossible */
    void *block = mmap((char *)area + bytes, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    push_out(2 * mib);
    uint64_t *grown = mremap(area, bytes, 2 * bytes, MREMAP_MAYMOVE);
    if (grown == MAP_FAILED) { printf("FAIL mremap\n"); return 1; }
    if (mismatches(grown, words, 41) != 0) { printf("FAIL moved pages\n"); return 1; }
    fill(grown + words, words, 42);
    push_out(2 * mib);
    uint64_t *bigger = mremap(grown, 2 * bytes, 4 * bytes, MREMAP_MAYMOVE);
    if (bigger == MAP_FAILED) { printf("FAIL second mremap\n"); return 1; }
    push_out(2 * mib);
    if (mismatches(bigger, words, 41) != 0 || mismatches(bigger + words, words, 42) != 0) { printf("FAIL after second move\n"); return 1; }
    for (size_t i = 2 * words; i < 4 * words; i++) if (bigger[i] != 0) { printf("FAIL grown part not zero\n"); return 1; }
    uint64_t *smaller = mremap(bigger, 4 * bytes, bytes, 0);
    push_out(2 * mib);
    if (smaller != bigger || mismatches(smaller, words, 41) != 0) { printf("FAIL after shrink\n"); return 1; }
    munmap(block, 4096);
    printf("mremap ok\n");
    return 0;
}
