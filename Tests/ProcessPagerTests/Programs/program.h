/* What the test programs share: a deterministic pattern, a checksum, and a way to push pages
 * out of a small resident limit (touch a lot of other memory). Each program prints one line
 * that the tests compare with the expected one; a mismatch is printed with "FAIL". */
#ifndef USWAP_TEST_PROGRAM_H
#define USWAP_TEST_PROGRAM_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The word at `index` of a buffer seeded with `seed`: mostly compressible, never all zero. */
static inline uint64_t pattern(uint64_t seed, uint64_t index) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + index;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    return (index % 8 < 5) ? (x >> 48) | 1 : 0x0101010101010101ull;
}

static inline void fill(uint64_t *words, size_t count, uint64_t seed) {
    for (size_t i = 0; i < count; i++) words[i] = pattern(seed, i);
}

/* Number of words that differ from the pattern. */
static inline size_t mismatches(const uint64_t *words, size_t count, uint64_t seed) {
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) bad += words[i] != pattern(seed, i);
    return bad;
}

static inline uint64_t checksum(const uint64_t *words, size_t count) {
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++) sum = sum * 31 + words[i];
    return sum;
}

/* Writes `mib` MiB of other memory (then frees it): under a small limit, older pages go out. */
static inline void push_out(size_t mib) {
    size_t words = (mib << 20) / 8;
    uint64_t *other = malloc(words * 8);
    if (other == NULL) { printf("FAIL malloc\n"); exit(1); }
    fill(other, words, 999);
    if (mismatches(other, words, 999) != 0) { printf("FAIL push_out readback\n"); exit(1); }
    free(other);
}

static inline size_t arg_mib(int argc, char **argv, int index, size_t fallback) {
    return argc > index ? (size_t)strtoul(argv[index], NULL, 10) : fallback;
}
#endif
