/* The kernel touching swapped-out memory: write(2) from swapped-out pages to a file and a pipe,
 * read(2) into swapped-out pages and into pages never touched. Prints "syscalls ok". */
#include "program.h"
#include <fcntl.h>
#include <unistd.h>

static void write_all(int fd, const void *buffer, size_t bytes) {
    const char *p = buffer;
    while (bytes > 0) {
        ssize_t n = write(fd, p, bytes);
        if (n <= 0) { printf("FAIL write: %zd\n", n); exit(1); }
        p += n;
        bytes -= (size_t)n;
    }
}

static void read_all(int fd, void *buffer, size_t bytes) {
    char *p = buffer;
    while (bytes > 0) {
        ssize_t n = read(fd, p, bytes);
        if (n <= 0) { printf("FAIL read: %zd\n", n); exit(1); }
        p += n;
        bytes -= (size_t)n;
    }
}

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 16);
    const char *path = argc > 2 ? argv[2] : "/tmp/uswap-syscalls.bin";
    size_t bytes = mib << 20, words = bytes / 8;
    uint64_t *source = malloc(bytes);
    fill(source, words, 11);
    push_out(2 * mib);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { printf("FAIL open\n"); return 1; }
    unlink(path);
    write_all(fd, source, bytes);                 /* kernel reads swapped-out pages */
    uint64_t *fresh = malloc(bytes);              /* never touched: missing pages */
    lseek(fd, 0, SEEK_SET);
    read_all(fd, fresh, bytes);                   /* kernel writes into missing pages */
    if (mismatches(fresh, words, 11) != 0) { printf("FAIL read into fresh pages\n"); return 1; }
    fill(source, words, 12);
    push_out(2 * mib);
    lseek(fd, 0, SEEK_SET);
    read_all(fd, source, bytes);                  /* kernel writes over swapped-out pages */
    if (mismatches(source, words, 11) != 0) { printf("FAIL read over swapped-out pages\n"); return 1; }
    int pipes[2];
    if (pipe(pipes) != 0) { printf("FAIL pipe\n"); return 1; }
    push_out(2 * mib);
    size_t chunk = 32768;
    for (size_t offset = 0; offset < bytes; offset += chunk) {
        write_all(pipes[1], (char *)source + offset, chunk);
        read_all(pipes[0], (char *)fresh + offset, chunk);
    }
    if (mismatches(fresh, words, 11) != 0) { printf("FAIL pipe round trip\n"); return 1; }
    printf("syscalls ok\n");
    return 0;
}
