/* Runs until killed: fills its heap, writes "ready" to the file named by argv[2], then keeps
 * reading and rewriting it. For the tests that kill the program or uswap mid-run. */
#include "program.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 32);
    size_t words = (mib << 20) / 8;
    uint64_t *heap = malloc(words * 8);
    fill(heap, words, 61);
    if (argc > 2) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char line[64];
        int n = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
        if (fd < 0 || write(fd, line, (size_t)n) != n) return 1;
        close(fd);
    }
    for (uint64_t round = 0;; round++) {
        if (mismatches(heap, words, 61 + round) != 0) { printf("FAIL round %llu\n", (unsigned long long)round); return 1; }
        fill(heap, words, 62 + round);
    }
}
