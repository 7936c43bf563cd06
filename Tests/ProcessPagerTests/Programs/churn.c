/* malloc, calloc, realloc and posix_memalign churn: blocks of mixed sizes are made, filled,
 * freed and remade over several rounds, then all are verified. Prints "churn ok blocks=N". */
#include "program.h"

struct block { uint64_t *words; size_t count; uint64_t seed; };

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 64);
    size_t total = 0, count = 0, capacity = 1 << 16;
    struct block *blocks = calloc(capacity, sizeof *blocks);
    uint64_t seed = 1;
    while (total < (mib << 20) && count < capacity) {
        size_t bytes = 64 + (pattern(7, count) % 5 == 0 ? 200000 : pattern(8, count) % 9000);
        bytes &= ~(size_t)7;
        uint64_t *words;
        switch (count % 4) {
        case 0: words = malloc(bytes); break;
        case 1: words = calloc(bytes / 8, 8);
            for (size_t i = 0; i < bytes / 8; i++) if (words[i] != 0) { printf("FAIL calloc not zero\n"); return 1; }
            break;
        case 2: if (posix_memalign((void **)&words, 4096, bytes) != 0) words = NULL; break;
        default: words = realloc(NULL, bytes / 2); words = realloc(words, bytes); break;
        }
        if (words == NULL) { printf("FAIL allocation\n"); return 1; }
        fill(words, bytes / 8, seed);
        blocks[count++] = (struct block){ words, bytes / 8, seed++ };
        total += bytes;
    }
    for (int round = 0; round < 3; round++) {
        for (size_t b = round; b < count; b += 3) {
            if (mismatches(blocks[b].words, blocks[b].count, blocks[b].seed) != 0) {
                printf("FAIL block %zu round %d\n", b, round);
                return 1;
            }
            size_t grow = blocks[b].count + blocks[b].count / 4 + 1;
            uint64_t *bigger = realloc(blocks[b].words, grow * 8);
            if (bigger == NULL) { printf("FAIL realloc\n"); return 1; }
            if (mismatches(bigger, blocks[b].count, blocks[b].seed) != 0) { printf("FAIL realloc kept\n"); return 1; }
            blocks[b] = (struct block){ bigger, grow, seed++ };
            fill(bigger, grow, blocks[b].seed);
        }
    }
    for (size_t b = 0; b < count; b++) {
        if (mismatches(blocks[b].words, blocks[b].count, blocks[b].seed) != 0) { printf("FAIL final block %zu\n", b); return 1; }
        free(blocks[b].words);
    }
    printf("churn ok blocks=%zu\n", count);
    return 0;
}
