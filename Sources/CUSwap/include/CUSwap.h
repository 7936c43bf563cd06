#ifndef CUSWAP_H
#define CUSWAP_H
/*
 * Kernel interfaces Swift cannot express, for the Swap target:
 *  - userfaultfd structs, ioctls and constants, including those newer than the installed 6.1
 *    headers (WP_UNPOPULATED, POISON, WP_ASYNC, MOVE, UFFDIO_POISON, UFFDIO_MOVE, PAGEMAP_SCAN,
 *    UFFD_USER_MODE_ONLY). Newer structs carry a cuswap_ prefix so that newer system headers
 *    never clash with them.
 *  - tiny inline helpers that issue one ioctl and return 0 or an errno value (no global errno
 *    traffic on the Swift side).
 *  - the SIGBUS trampoline: a sigaction handler that reads si_addr (and, on x86-64, whether the
 *    access was a write) and calls a registered C function pointer for addresses inside a
 *    registered region, chaining every other SIGBUS to the handler installed before it.
 */
#include <stdint.h>
#include <stddef.h>

#ifdef __linux__
#include <errno.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

/* UFFDIO_MOVE (6.8) */
struct cuswap_uffdio_move {
    uint64_t dst;
    uint64_t src;
    uint64_t len;
    uint64_t mode;
    int64_t move;
};
#define CUSWAP_UFFDIO_MOVE_MODE_DONTWAKE ((uint64_t)1 << 0)
#define CUSWAP_UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((uint64_t)1 << 1)
#define CUSWAP_UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct cuswap_uffdio_move)

/* UFFDIO_POISON (6.6) */
struct cuswap_uffdio_poison {
    struct uffdio_range range;
    uint64_t mode;
    int64_t updated;
};
#define CUSWAP_UFFDIO_POISON_MODE_DONTWAKE ((uint64_t)1 << 0)
#define CUSWAP_UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct cuswap_uffdio_poison)

/* PAGEMAP_SCAN (6.7), from linux/fs.h */
struct cuswap_page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};
struct cuswap_pm_scan_arg {
    uint64_t size;
    uint64_t flags;
    uint64_t start;
    uint64_t end;
    uint64_t walk_end;
    uint64_t vec;
    uint64_t vec_len;
    uint64_t max_pages;
    uint64_t category_inverted;
    uint64_t category_mask;
    uint64_t category_anyof_mask;
    uint64_t return_mask;
};
#define CUSWAP_PM_SCAN_WP_MATCHING ((uint64_t)1 << 0)
#define CUSWAP_PM_SCAN_CHECK_WPASYNC ((uint64_t)1 << 1)
#define CUSWAP_PAGE_IS_WPALLOWED ((uint64_t)1 << 0)
#define CUSWAP_PAGE_IS_WRITTEN ((uint64_t)1 << 1)
#define CUSWAP_PAGE_IS_FILE ((uint64_t)1 << 2)
#define CUSWAP_PAGE_IS_PRESENT ((uint64_t)1 << 3)
#define CUSWAP_PAGE_IS_SWAPPED ((uint64_t)1 << 4)
#define CUSWAP_PAGE_IS_PFNZERO ((uint64_t)1 << 5)
#define CUSWAP_PAGE_IS_HUGE ((uint64_t)1 << 6)
#define CUSWAP_PAGE_IS_SOFT_DIRTY ((uint64_t)1 << 7)
#define CUSWAP_PAGEMAP_SCAN _IOWR('f', 16, struct cuswap_pm_scan_arg)

/* Constants re-exported as plain values (Swift does not import function-like macros). */
static const uint64_t cuswap_uffd_api = UFFD_API;
static const int cuswap_uffd_user_mode_only = UFFD_USER_MODE_ONLY;
static const uint64_t cuswap_register_mode_missing = UFFDIO_REGISTER_MODE_MISSING;
static const uint64_t cuswap_register_mode_wp = UFFDIO_REGISTER_MODE_WP;
static const uint64_t cuswap_copy_mode_dontwake = UFFDIO_COPY_MODE_DONTWAKE;
static const uint64_t cuswap_copy_mode_wp = UFFDIO_COPY_MODE_WP;
static const uint64_t cuswap_pagefault_flag_write = UFFD_PAGEFAULT_FLAG_WRITE;
static const uint64_t cuswap_pagefault_flag_wp = UFFD_PAGEFAULT_FLAG_WP;
static const uint8_t cuswap_event_pagefault = UFFD_EVENT_PAGEFAULT;

/* Every helper returns 0 on success or a positive errno value. */

/* userfaultfd(2); returns the descriptor or -errno. */
static inline int cuswap_userfaultfd(int flags) {
    long fd = syscall(__NR_userfaultfd, flags);
    return fd < 0 ? -errno : (int)fd;
}

/* UFFDIO_API: `*features` in = requested, out = what the kernel has. */
static inline int cuswap_uffd_api_handshake(int fd, uint64_t *features, uint64_t *ioctls) {
    struct uffdio_api api = { .api = UFFD_API, .features = *features, .ioctls = 0 };
    if (ioctl(fd, UFFDIO_API, &api) != 0) return errno;
    *features = api.features;
    *ioctls = api.ioctls;
    return 0;
}

static inline int cuswap_uffd_register(int fd, uint64_t start, uint64_t len, uint64_t mode, uint64_t *ioctls) {
    struct uffdio_register r = { .range = { .start = start, .len = len }, .mode = mode, .ioctls = 0 };
    if (ioctl(fd, UFFDIO_REGISTER, &r) != 0) return errno;
    *ioctls = r.ioctls;
    return 0;
}

static inline int cuswap_uffd_unregister(int fd, uint64_t start, uint64_t len) {
    struct uffdio_range r = { .start = start, .len = len };
    return ioctl(fd, UFFDIO_UNREGISTER, &r) != 0 ? errno : 0;
}

/* UFFDIO_COPY; `*copied` gets the kernel's copy field (bytes, or -errno). */
static inline int cuswap_uffd_copy(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *copied) {
    struct uffdio_copy c = { .dst = dst, .src = src, .len = len, .mode = mode, .copy = 0 };
    int rc = ioctl(fd, UFFDIO_COPY, &c) != 0 ? errno : 0;
    *copied = c.copy;
    return rc;
}

static inline int cuswap_uffd_zeropage(int fd, uint64_t start, uint64_t len, uint64_t mode) {
    struct uffdio_zeropage z = { .range = { .start = start, .len = len }, .mode = mode, .zeropage = 0 };
    return ioctl(fd, UFFDIO_ZEROPAGE, &z) != 0 ? errno : 0;
}

/* UFFDIO_WRITEPROTECT: protect != 0 sets write protection, 0 clears it (and wakes unless dontwake). */
static inline int cuswap_uffd_writeprotect(int fd, uint64_t start, uint64_t len, int protect, int dontwake) {
    struct uffdio_writeprotect w = { .range = { .start = start, .len = len },
        .mode = (protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0) | (dontwake ? UFFDIO_WRITEPROTECT_MODE_DONTWAKE : 0) };
    return ioctl(fd, UFFDIO_WRITEPROTECT, &w) != 0 ? errno : 0;
}

static inline int cuswap_uffd_wake(int fd, uint64_t start, uint64_t len) {
    struct uffdio_range r = { .start = start, .len = len };
    return ioctl(fd, UFFDIO_WAKE, &r) != 0 ? errno : 0;
}

static inline int cuswap_uffd_poison(int fd, uint64_t start, uint64_t len) {
    struct cuswap_uffdio_poison p = { .range = { .start = start, .len = len }, .mode = 0, .updated = 0 };
    return ioctl(fd, CUSWAP_UFFDIO_POISON, &p) != 0 ? errno : 0;
}

/* UFFDIO_MOVE; `*moved` gets the kernel's move field. */
static inline int cuswap_uffd_move(int fd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode, int64_t *moved) {
    struct cuswap_uffdio_move m = { .dst = dst, .src = src, .len = len, .mode = mode, .move = 0 };
    int rc = ioctl(fd, CUSWAP_UFFDIO_MOVE, &m) != 0 ? errno : 0;
    *moved = m.move;
    return rc;
}

/* One userfaultfd message, flattened: returns 1 and fills the fields for a page fault, 0 for
 * another event, -errno on a read error (EAGAIN when nothing is pending). */
static inline int cuswap_uffd_read_fault(int fd, uint64_t *address, uint64_t *flags) {
    struct uffd_msg msg;
    ssize_t n = read(fd, &msg, sizeof msg);
    if (n < 0) return -errno;
    if (n != (ssize_t)sizeof msg) return -EIO;
    if (msg.event != UFFD_EVENT_PAGEFAULT) return 0;
    *address = msg.arg.pagefault.address;
    *flags = msg.arg.pagefault.flags;
    return 1;
}

static inline int cuswap_madvise(void *addr, size_t len, int advice) {
    return madvise(addr, len, advice) != 0 ? errno : 0;
}

/* pidfd_open(2) of process `pid` (close-on-exec); returns the descriptor or -errno. */
static inline int cuswap_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

/* process_madvise(2): `advice` over `count` ranges of the process behind `pidfd` in one call
 * (for MADV_DONTNEED on the calling process: one TLB flush for all of them). Returns the bytes
 * advised (fewer than asked when it stopped at an error) or -errno. */
static inline long cuswap_process_madvise(int pidfd, const struct iovec *ranges, size_t count, int advice) {
    long n = syscall(SYS_process_madvise, pidfd, ranges, count, advice, 0);
    return n < 0 ? -errno : n;
}

/* The SIGBUS trampoline. */

/* What a fault handler is told about the access: */
#define CUSWAP_ACCESS_UNKNOWN (-1)
#define CUSWAP_ACCESS_READ 0
#define CUSWAP_ACCESS_WRITE 1
/* The access hit a poisoned page (si_code BUS_MCEERR_AR: a real memory error, or a UFFDIO_POISON
 * marker on a kernel with CONFIG_MEMORY_FAILURE; without it the marker raises a plain BUS_ADRERR).
 * The handler may clear its own marker; the trampoline then always chains, so the thread sees
 * its SIGBUS. */
#define CUSWAP_ACCESS_POISONED 2

/* What it answers: */
#define CUSWAP_FAULT_HANDLED 1   /* the access can be retried */
#define CUSWAP_FAULT_FAILED 0    /* the page cannot be provided: deliver SIGBUS as the kernel would */

/* Called on the faulting thread, inside the signal handler: must be async-signal-safe. */
typedef int (*cuswap_fault_fn)(void *context, uintptr_t address, int access);

/* Installs the process-wide SIGBUS handler (reference counted: each call needs one
 * cuswap_sigbus_release). Returns 0 or an errno value. */
int cuswap_sigbus_retain(void);
void cuswap_sigbus_release(void);
/* Routes faults in [base, base+length) to fn(context, ...). Returns a registration index >= 0,
 * or -ENOSPC when all slots are taken. */
int cuswap_sigbus_register(uintptr_t base, size_t length, cuswap_fault_fn fn, void *context);
/* Removes a registration and waits until no handler runs for it any more. */
void cuswap_sigbus_unregister(int index);
/* The number of registration slots. */
int cuswap_sigbus_capacity(void);

/* Futex wait and wake on a 32-bit word shared by the threads of this process (FUTEX_PRIVATE).
 * Both are single system calls: async-signal-safe, usable inside the SIGBUS handler.
 * cuswap_futex_wait sleeps while *word == expected, at most timeout_ns (< 0: no limit); returns 0
 * when woken, or EAGAIN (the word had changed), EINTR, ETIMEDOUT. cuswap_futex_wake wakes up to
 * count sleepers and returns how many it woke (or -errno). */
int cuswap_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
int cuswap_futex_wake(uint32_t *word, int count);
/* Blocks every signal in the calling thread except the synchronous ones (SIGBUS, SIGSEGV,
 * SIGILL, SIGFPE): for pager threads, so that no application signal handler runs on them. */
void cuswap_block_async_signals(void);
/* A spin-wait hint to the CPU (x86 PAUSE, arm64 YIELD). */
void cuswap_cpu_relax(void);

/* Monotonic clock in nanoseconds (async-signal-safe). */
uint64_t cuswap_now_ns(void);
/* A cheap per-thread number (pthread_self), for sharding per-thread counters. */
uintptr_t cuswap_thread_token(void);
/* CPU time (user + system) of the whole process in nanoseconds. */
uint64_t cuswap_process_cpu_ns(void);
/* The CPUs the calling thread may run on (sched_getaffinity), at least 1; 1 when the call
 * fails. */
int cuswap_usable_cpus(void);

#endif /* __linux__ */
#endif /* CUSWAP_H */
