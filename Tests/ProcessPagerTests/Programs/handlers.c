/* A program with its own SIGSEGV and SIGBUS handlers (as the JVM has): it provokes both
 * (a PROT_NONE page, a mapping past the end of a file) and recovers with siglongjmp, while its
 * heap is paged. Prints "handlers ok segv=1 bus=1". */
#include "program.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf back;
static volatile sig_atomic_t segv_seen, bus_seen;
static void *volatile expected_address;

static void on_signal(int signal, siginfo_t *info, void *context) {
    (void)context;
    if (info->si_addr != expected_address) _exit(3);
    if (signal == SIGSEGV) segv_seen++;
    if (signal == SIGBUS) bus_seen++;
    siglongjmp(back, 1);
}

int main(int argc, char **argv) {
    size_t mib = arg_mib(argc, argv, 1, 32);
    size_t words = (mib << 20) / 8;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);
    sigaction(SIGBUS, &action, NULL);
    uint64_t *heap = malloc(words * 8);
    fill(heap, words, 51);
    push_out(mib);

    char *guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expected_address = guard;
    if (sigsetjmp(back, 1) == 0) {
        *(volatile char *)guard = 1;
        printf("FAIL no SIGSEGV\n");
        return 1;
    }
    if (mismatches(heap, words, 51) != 0) { printf("FAIL heap after SIGSEGV\n"); return 1; }

    char path[] = "/tmp/uswap-handlers-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    if (fd < 0 || ftruncate(fd, 4096) != 0) { printf("FAIL file\n"); return 1; }
    char *mapped = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
    expected_address = mapped + 4096;
    if (sigsetjmp(back, 1) == 0) {
        (void)*(volatile char *)(mapped + 4096);
        printf("FAIL no SIGBUS\n");
        return 1;
    }
    push_out(mib);
    if (mismatches(heap, words, 51) != 0) { printf("FAIL heap after SIGBUS\n"); return 1; }
    printf("handlers ok segv=%d bus=%d\n", (int)segv_seen, (int)bus_seen);
    return 0;
}
