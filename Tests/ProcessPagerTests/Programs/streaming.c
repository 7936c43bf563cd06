/* A program streaming through a file larger than its resident limit: writes MIB MiB to PATH from
 * a heap buffer (fdatasync every 4 MiB), then reads it back into the heap and checks every word,
 * slowly enough (20 ms a MiB) for the pager's samples to see the file positions move. Prints
 * "streaming ok: N MiB". */
#include "program.h"
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256u << 10)

static void pause_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 32);
    const char *path = argc > 2 ? argv[2] : "/var/tmp/uswap-streaming.bin";
    size_t chunks = (mib << 20) / CHUNK, words = CHUNK / 8;
    uint64_t *buffer = malloc(CHUNK);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (buffer == NULL || fd < 0) { printf("FAIL open %s\n", path); return 1; }
    for (size_t i = 0; i < chunks; i++) {
        fill(buffer, words, 100 + i);
        if (write(fd, buffer, CHUNK) != (ssize_t)CHUNK) { printf("FAIL write\n"); return 1; }
        if ((i + 1) % (4 * 4) == 0 && fdatasync(fd) != 0) { printf("FAIL fdatasync\n"); return 1; }
        if ((i + 1) % 4 == 0) pause_ms(20);
    }
    if (close(fd) != 0) { printf("FAIL close\n"); return 1; }
    fd = open(path, O_RDONLY);
    if (fd < 0) { printf("FAIL reopen\n"); return 1; }
    for (size_t i = 0; i < chunks; i++) {
        if (read(fd, buffer, CHUNK) != (ssize_t)CHUNK) { printf("FAIL read\n"); return 1; }
        if (mismatches(buffer, words, 100 + i) != 0) { printf("FAIL chunk %zu differs\n", i); return 1; }
        if ((i + 1) % 4 == 0) pause_ms(20);
    }
    close(fd);
    unlink(path);
    printf("streaming ok: %zu MiB\n", mib);
    return 0;
}
