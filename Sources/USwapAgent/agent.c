/*
 * libuswap-agent.so: see include/USwapAgent.h and docs/RUN.md.
 *
 * Rules this file keeps:
 *  - It never calls malloc: the program's allocator (mimalloc, preloaded after us) calls our
 *    mmap, and the agent must work before and during the allocator's own start.
 *  - The real mmap/munmap/mremap/madvise are issued as system calls (no dlsym on that path).
 *  - The drop thread is a bare clone() thread that uses only raw system calls (no errno, no
 *    TLS, no locks the program could hold), with every signal blocked: no handler of the
 *    program ever runs on it, and it can be started in a fork child.
 *  - A mapping is registered with the userfaultfd before mmap returns, so no access to it can
 *    happen before the pager sees it. munmap, mremap and fixed mmaps take the map lock, so an
 *    address range is never reused by one thread while the pager has not yet read the unmap
 *    event of another.
 */
#define _GNU_SOURCE
#include "USwapAgent.h"
#include "uswap_protocol.h"
#include "uswap_socket.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ull << 16)
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
/* UFFDIO_MOVE (6.8), newer than the installed headers. */
struct agent_uffdio_move {
    uint64_t dst;
    uint64_t src;
    uint64_t len;
    uint64_t mode;
    int64_t move;
};
#define AGENT_UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct agent_uffdio_move)
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

/* The highest address the pager's page table covers (47-bit user space). */
#define AGENT_ADDRESS_LIMIT (1ull << 47)
#define AGENT_PENDING_CAPACITY 128
#define AGENT_DROP_STACK_BYTES (64u * 1024u)

/* Features the agent asks for; all but THREAD_ID are required. */
#define AGENT_REQUIRED_FEATURES                                                                      \
    (UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |               \
     UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_MOVE)
#define AGENT_WANTED_FEATURES (AGENT_REQUIRED_FEATURES | UFFD_FEATURE_THREAD_ID)

enum agent_state {
    AGENT_UNINITIALISED = 0, /* before the constructor: candidate mappings are remembered */
    AGENT_INACTIVE = 1,      /* no USWAP_AGENT: pass everything through */
    AGENT_ACTIVE = 2,        /* registered with the pager */
};

/* ---- raw system calls (no errno), for the drop thread ---------------------------------- */

static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#else
#error "the agent's drop thread needs raw system calls for this architecture"
#endif
}

#define RAW3(n, a, b, c) raw_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW6(n, a, b, c, d, e, f) raw_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* ---- state ----------------------------------------------------------------------------- */

static _Atomic int agent_state = AGENT_UNINITIALISED;
static int agent_uffd = -1;         /* our own copy: faults block instead of reading zeros if the pager dies */
static int agent_socket = -1;
static pid_t agent_pager_pid;
static unsigned agent_flags;
static struct sockaddr_un agent_address;
static socklen_t agent_address_length;
static uintptr_t agent_scratch;
static uint64_t agent_features;
static uint64_t agent_register_mode = UFFDIO_REGISTER_MODE_MISSING;
static _Atomic uint32_t agent_map_lock;          /* 0 free, 1 held, 2 held with waiters */
static _Atomic uint32_t agent_fork_ready;        /* last FORK_READY sequence received (a futex word) */
static uint32_t agent_fork_sequence;             /* last FORK_BEGIN sequence sent */
static pid_t (*agent_real_fork)(void);

struct agent_range {
    uintptr_t start;
    size_t length;
};
static struct agent_range agent_pending[AGENT_PENDING_CAPACITY];
static _Atomic int agent_pending_count;
static _Atomic uint64_t agent_pending_lost;      /* bytes of candidates that did not fit */
static _Atomic uint64_t agent_unregistered;      /* bytes whose registration failed */

uint32_t uswap_agent_protocol_version(void) { return USWAP_PROTOCOL_VERSION; }
int uswap_agent_is_active(void) { return atomic_load(&agent_state) == AGENT_ACTIVE; }

/* ---- messages -------------------------------------------------------------------------- */

static void agent_say(const char *a, const char *b, const char *c) {
    const char *parts[] = { "uswap: ", a, b, c, "\n" };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i] == NULL) continue;
        size_t n = strlen(parts[i]);
        while (n > 0) {
            ssize_t w = write(STDERR_FILENO, parts[i], n);
            if (w <= 0) break;
            parts[i] += w;
            n -= (size_t)w;
        }
    }
}

/* Ends the process at once: the pager that holds its pages is gone or refused it. */
__attribute__((noreturn)) static void agent_die(void) {
    RAW3(SYS_kill, RAW3(SYS_getpid, 0, 0, 0), SIGKILL, 0);
    for (;;) RAW3(SYS_exit_group, 137, 0, 0);
}

/* ---- the map lock: a futex word, usable with raw calls --------------------------------- */

static void map_lock(void) {
    uint32_t expected = 0;
    if (atomic_compare_exchange_strong(&agent_map_lock, &expected, 1)) return;
    for (;;) {
        if (atomic_exchange(&agent_map_lock, 2) == 0) return;
        RAW6(SYS_futex, &agent_map_lock, FUTEX_WAIT_PRIVATE, 2, 0, 0, 0);
    }
}

static void map_unlock(void) {
    if (atomic_exchange(&agent_map_lock, 0) == 2) RAW6(SYS_futex, &agent_map_lock, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

/* ---- registration ---------------------------------------------------------------------- */

static int is_candidate(size_t length, int prot, int flags) {
    if (length == 0) return 0;
    if (!(flags & MAP_ANONYMOUS)) return 0;
    if ((flags & MAP_TYPE) != MAP_PRIVATE) return 0;
    if (flags & (MAP_HUGETLB | MAP_LOCKED | MAP_GROWSDOWN | MAP_STACK)) return 0;
    if (prot & PROT_EXEC) return 0;
    return 1;
}

static size_t page_round(size_t length) {
    size_t page = 4096;
    return (length + page - 1) & ~(page - 1);
}

static void register_range(uintptr_t start, size_t length) {
    if (start + length > AGENT_ADDRESS_LIMIT) {
        atomic_fetch_add(&agent_unregistered, length);
        return;
    }
    struct uffdio_register r = { .range = { .start = start, .len = length }, .mode = agent_register_mode };
    if (ioctl(agent_uffd, UFFDIO_REGISTER, &r) != 0) atomic_fetch_add(&agent_unregistered, length);
}

static void remember_pending(uintptr_t start, size_t length) {
    int index = atomic_fetch_add(&agent_pending_count, 1);
    if (index >= AGENT_PENDING_CAPACITY) {
        atomic_fetch_add(&agent_pending_lost, length);
        return;
    }
    agent_pending[index].start = start;
    agent_pending[index].length = length;
}

/* Forgets pending ranges that overlap [start, start+length): they were unmapped or moved. */
static void forget_pending(uintptr_t start, size_t length) {
    int count = atomic_load(&agent_pending_count);
    if (count > AGENT_PENDING_CAPACITY) count = AGENT_PENDING_CAPACITY;
    for (int i = 0; i < count; i++) {
        struct agent_range *p = &agent_pending[i];
        if (p->length != 0 && p->start < start + length && start < p->start + p->length) p->length = 0;
    }
}

static void track(void *address, size_t length) {
    length = page_round(length);
    if (atomic_load(&agent_state) == AGENT_ACTIVE && agent_uffd >= 0) {
        register_range((uintptr_t)address, length);
    } else {
        remember_pending((uintptr_t)address, length);
    }
}

/* ---- interposed functions -------------------------------------------------------------- */

static void *raw_mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    return (void *)syscall(SYS_mmap, address, length, prot, flags, fd, offset);
}

void *mmap(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    if (atomic_load(&agent_state) == AGENT_INACTIVE || !is_candidate(length, prot, flags)) {
        return raw_mmap(address, length, prot, flags, fd, offset);
    }
    map_lock();
    void *result = raw_mmap(address, length, prot, flags, fd, offset);
    if (result != MAP_FAILED) track(result, length);
    map_unlock();
    return result;
}

void *mmap64(void *address, size_t length, int prot, int flags, int fd, off_t offset) {
    return mmap(address, length, prot, flags, fd, offset);
}

int munmap(void *address, size_t length) {
    if (atomic_load(&agent_state) == AGENT_INACTIVE) return (int)syscall(SYS_munmap, address, length);
    map_lock();
    int rc = (int)syscall(SYS_munmap, address, length);
    if (rc == 0 && atomic_load(&agent_state) != AGENT_ACTIVE) forget_pending((uintptr_t)address, page_round(length));
    map_unlock();
    return rc;
}

void *mremap(void *old_address, size_t old_size, size_t new_size, int flags, ...) {
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_address = va_arg(ap, void *);
        va_end(ap);
    }
    if (atomic_load(&agent_state) == AGENT_INACTIVE) {
        return (void *)syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
    }
    map_lock();
    void *result = (void *)syscall(SYS_mremap, old_address, old_size, new_size, flags, new_address);
    if (result != MAP_FAILED && atomic_load(&agent_state) != AGENT_ACTIVE) {
        forget_pending((uintptr_t)old_address, page_round(old_size));
    }
    map_unlock();
    return result;
}

/* MADV_FREE leaves pages mapped until the kernel needs them: the pager would not see a later
 * write that keeps such a page. DONTNEED is a valid implementation of FREE for private
 * anonymous memory, and the pager sees both as a remove event. */
int madvise(void *address, size_t length, int advice) {
    if (advice == MADV_FREE && atomic_load(&agent_state) == AGENT_ACTIVE) advice = MADV_DONTNEED;
    return (int)syscall(SYS_madvise, address, length, advice);
}

/* ---- socket helpers -------------------------------------------------------------------- */

static int connect_to_pager(void) {
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval timeout = { .tv_sec = 20, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    while (connect(fd, (struct sockaddr *)&agent_address, agent_address_length) != 0) {
        if (errno == EINTR) continue;
        close(fd);
        return -1;
    }
    return fd;
}

/* A HELLO of `kind` for this process as it is now. */
static struct uswap_hello make_hello(uint32_t kind) {
    struct uswap_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.header.type = USWAP_MSG_HELLO;
    hello.header.length = sizeof hello;
    hello.version = USWAP_PROTOCOL_VERSION;
    hello.kind = kind;
    hello.pid = getpid();
    hello.parent_pid = getppid();
    hello.features = agent_features;
    hello.scratch_base = agent_scratch;
    hello.scratch_pages = USWAP_SCRATCH_HALVES * USWAP_SCRATCH_HALF_PAGES;
    hello.page_size = 4096;
    hello.fork_sequence = agent_fork_sequence;
    return hello;
}

/* Waits for WELCOME (or REFUSE, which ends the process with the pager's reason). */
static int await_welcome(int fd, struct uswap_welcome *welcome, int *received_fd) {
    union {
        struct uswap_welcome welcome;
        struct uswap_text text;
    } reply;
    int unexpected = -1;
    int64_t n = uswap_receive_message(fd, &reply, sizeof reply, received_fd ? received_fd : &unexpected, 0);
    if (unexpected >= 0) close(unexpected);
    if (n >= (ssize_t)sizeof(struct uswap_header) && reply.welcome.header.type == USWAP_MSG_REFUSE) {
        reply.text.text[USWAP_TEXT_BYTES - 1] = 0;
        agent_say(reply.text.text, NULL, NULL);
        _exit(126);
    }
    if (n != (ssize_t)sizeof(struct uswap_welcome) || reply.welcome.header.type != USWAP_MSG_WELCOME) return -1;
    *welcome = reply.welcome;
    return 0;
}

/* ---- the drop thread ------------------------------------------------------------------- */

struct drop_context {
    int socket;
    int pid;
};
static struct drop_context agent_drop_context;

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 11)
#define AGENT_NO_STACK_PROTECTOR __attribute__((no_stack_protector))
#else
#define AGENT_NO_STACK_PROTECTOR
#endif

static long raw_send(int fd, const void *message, size_t length) {
    long n;
    do { n = RAW6(SYS_sendto, fd, message, length, MSG_NOSIGNAL, 0, 0); } while (n == -EINTR);
    return n;
}

/* Moves `count` pages (ascending addresses) into the scratch half at `half`, densely; writes
 * each page's index in the half, or -errno, to `results`. Returns the pages moved. */
AGENT_NO_STACK_PROTECTOR static uint32_t move_victims(const uint64_t *pages, uint32_t count, uintptr_t half, int32_t *results) {
    const uint64_t page = 4096;
    uint32_t next = 0;
    uint32_t i = 0;
    while (i < count) {
        uint32_t j = i;
        while (j + 1 < count && pages[j + 1] == pages[j] + page) j++;
        uint32_t k = i;
        int retries = 0;
        while (k <= j) {
            struct agent_uffdio_move m;
            m.dst = half + (uint64_t)next * page;
            m.src = pages[k];
            m.len = (uint64_t)(j - k + 1) * page;
            m.mode = 0;
            m.move = 0;
            long rc = RAW3(SYS_ioctl, agent_uffd, AGENT_UFFDIO_MOVE, &m);
            uint32_t moved = rc == 0 ? j - k + 1 : (m.move > 0 ? (uint32_t)(m.move / (int64_t)page) : 0);
            for (uint32_t q = 0; q < moved; q++) results[k + q] = (int32_t)next++;
            k += moved;
            if (rc != 0 && k <= j) {
                if (rc == -EAGAIN && retries++ < 3) continue;
                if (rc == -EINVAL && j > k) {
                    /* A run that crosses into another mapping is refused whole: go page by page. */
                    j = k;
                    continue;
                }
                results[k] = (int32_t)rc;
                k++;
                retries = 0;
            }
        }
        i = j + 1;
    }
    return next;
}

AGENT_NO_STACK_PROTECTOR static int drop_main(void *argument) {
    /* Only raw system calls and plain stores here: no libc call (a lazily bound PLT entry or
     * errno would touch the thread pointer, which is the creating thread's). */
    struct drop_context *context = argument;
    const int fd = context->socket;
    const long page = 4096;
    const uintptr_t half_bytes = (uintptr_t)USWAP_SCRATCH_HALF_PAGES * (uintptr_t)page;
    struct uswap_dropper hello;
    hello.header.type = USWAP_MSG_DROPPER;
    hello.header.length = sizeof hello;
    hello.header.sequence = 0;
    hello.tid = (int32_t)RAW3(SYS_gettid, 0, 0, 0);
    hello.reserved = 0;
    raw_send(fd, &hello, sizeof hello);
    union {
        struct uswap_header header;
        struct uswap_evict evict;
        char bytes[sizeof(struct uswap_text)];
    } message;
    struct uswap_evict_done done;
    for (;;) {
        long n = RAW6(SYS_recvfrom, fd, &message, sizeof message, 0, 0, 0);
        if (n == -EINTR) continue;
        if (n == 0 || n == -ECONNRESET || n == -EPIPE) agent_die(); /* the pager is gone */
        if (n < 0) RAW3(SYS_exit, 0, 0, 0);                       /* the program closed our socket */
        if (n < (long)sizeof(struct uswap_header)) continue;
        if (message.header.type == USWAP_MSG_EVICT && n == (long)sizeof(struct uswap_evict)) {
            const struct uswap_evict *e = &message.evict;
            done.header.type = USWAP_MSG_EVICT_DONE;
            done.header.length = sizeof done;
            done.header.sequence = e->header.sequence;
            done.drop_result = 0;
            done.unshared = 0;
            done.moved = 0;
            done.reserved = 0;
            if (e->drop_half >= 0 && e->drop_half < (int32_t)USWAP_SCRATCH_HALVES && e->drop_pages > 0) {
                uintptr_t start = agent_scratch + (uintptr_t)e->drop_half * half_bytes;
                uint32_t pages = e->drop_pages <= USWAP_SCRATCH_HALF_PAGES ? e->drop_pages : USWAP_SCRATCH_HALF_PAGES;
                done.drop_result = (int32_t)RAW3(SYS_madvise, start, (long)pages * page, MADV_DONTNEED);
            }
            uint32_t count = e->move_count <= USWAP_SCRATCH_HALF_PAGES ? e->move_count : USWAP_SCRATCH_HALF_PAGES;
            if (e->move_half >= 0 && e->move_half < (int32_t)USWAP_SCRATCH_HALVES && count > 0) {
                done.moved = move_victims(e->pages, count, agent_scratch + (uintptr_t)e->move_half * half_bytes, done.results);
            }
            uint32_t unshare = e->unshare_count <= USWAP_MAX_UNSHARE ? e->unshare_count : USWAP_MAX_UNSHARE;
            for (uint32_t i = 0; i < unshare; i++) {
                /* A write fault without a write: breaks copy-on-write sharing left by fork, so
                 * the page becomes exclusive and can be moved. Errors (the page was unmapped or
                 * made read-only meanwhile) only leave it shared. */
                if (RAW3(SYS_madvise, e->unshare[i], page, MADV_POPULATE_WRITE) == 0) done.unshared++;
            }
            raw_send(fd, &done, sizeof done);
        } else if (message.header.type == USWAP_MSG_FORK_READY) {
            atomic_store(&agent_fork_ready, (uint32_t)message.header.sequence);
            RAW6(SYS_futex, &agent_fork_ready, FUTEX_WAKE_PRIVATE, 0x7fffffff, 0, 0, 0);
        }
    }
    return 0;
}

static int start_drop_thread(int socket_fd) {
    void *stack = (void *)syscall(SYS_mmap, NULL, AGENT_DROP_STACK_BYTES, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) return errno;
    agent_drop_context.socket = socket_fd;
    agent_drop_context.pid = getpid();
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    int tid = clone(drop_main, (char *)stack + AGENT_DROP_STACK_BYTES, flags, &agent_drop_context);
    int error = tid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return error;
}

/* ---- fork -------------------------------------------------------------------------------- */

static void fork_prepare(void) {
    if (atomic_load(&agent_state) != AGENT_ACTIVE) return;
    map_lock(); /* held across fork: no mapping changes while the pager snapshots the parent */
    uint32_t sequence = ++agent_fork_sequence;
    struct uswap_header begin = { .type = USWAP_MSG_FORK_BEGIN, .length = sizeof begin, .sequence = sequence };
    if (uswap_send_message(agent_socket, &begin, sizeof begin, -1) != 0) return;
    /* Wait (at most ~10 s) for the pager to pause evictions in this process. */
    for (int i = 0; i < 1000 && atomic_load(&agent_fork_ready) < sequence; i++) {
        struct timespec t = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
        uint32_t seen = atomic_load(&agent_fork_ready);
        if (seen >= sequence) break;
        syscall(SYS_futex, &agent_fork_ready, FUTEX_WAIT_PRIVATE, seen, &t, NULL, 0);
    }
}

static void fork_parent(void) {
    if (atomic_load(&agent_state) != AGENT_ACTIVE) return;
    map_unlock();
}

static void fork_child(void) {
    if (atomic_load(&agent_state) != AGENT_ACTIVE) return;
    atomic_store(&agent_map_lock, 0);
    /* The inherited descriptors belong to the parent: its socket, and a userfaultfd whose
     * ioctls act on the parent's memory. The child gets its own of both. */
    int parent_socket = agent_socket, parent_uffd = agent_uffd;
    agent_socket = -1;
    agent_uffd = -1;
    close(parent_socket);
    close(parent_uffd);
    int fd = connect_to_pager();
    if (fd < 0) {
        agent_say("cannot reach the pager from a forked child; ending it (its pages live in the pager)", NULL, NULL);
        agent_die();
    }
    struct uswap_hello hello = make_hello(USWAP_HELLO_FORK_CHILD);
    struct uswap_welcome welcome;
    int child_uffd = -1;
    if (uswap_send_message(fd, &hello, sizeof hello, -1) != 0 || await_welcome(fd, &welcome, &child_uffd) != 0 || child_uffd < 0) {
        agent_say("the pager did not take this forked child; ending it (its pages live in the pager)", NULL, NULL);
        agent_die();
    }
    agent_socket = fd;
    agent_uffd = child_uffd;
    if (start_drop_thread(fd) != 0) {
        agent_say("cannot start the drop thread in a forked child; ending it", NULL, NULL);
        agent_die();
    }
}

pid_t fork(void) {
    if (agent_real_fork == NULL) agent_real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    if (agent_real_fork == NULL) {
        errno = ENOSYS;
        return -1;
    }
    pid_t pid = agent_real_fork();
    if (pid < 0 && atomic_load(&agent_state) == AGENT_ACTIVE) {
        int saved = errno;
        struct uswap_header failed = { .type = USWAP_MSG_FORK_FAILED, .length = sizeof failed, .sequence = agent_fork_sequence };
        uswap_send_message(agent_socket, &failed, sizeof failed, -1);
        errno = saved;
    }
    return pid;
}

/* ---- start ------------------------------------------------------------------------------- */

static int parse_environment(const char *value) {
    /* "<version>:<socket name>:<pager pid>:<flags hex>" */
    char *end;
    unsigned long version = strtoul(value, &end, 10);
    if (*end != ':' || version != USWAP_PROTOCOL_VERSION) return -1;
    const char *name = end + 1;
    const char *colon = strchr(name, ':');
    if (colon == NULL || colon == name || (size_t)(colon - name) >= sizeof agent_address.sun_path - 1) return -1;
    memset(&agent_address, 0, sizeof agent_address);
    agent_address.sun_family = AF_UNIX;
    memcpy(agent_address.sun_path + 1, name, (size_t)(colon - name)); /* abstract: leading NUL */
    agent_address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)(colon - name));
    long pid = strtol(colon + 1, &end, 10);
    if (*end != ':' || pid <= 0) return -1;
    agent_pager_pid = (pid_t)pid;
    agent_flags = (unsigned)strtoul(end + 1, &end, 16);
    return 0;
}

static const char *const agent_uffd_advice =
    "a userfaultfd that also serves faults the kernel takes inside system calls (read(2) into a "
    "swapped-out buffer) needs one of: root, CAP_SYS_PTRACE, read-write access to /dev/userfaultfd "
    "(Linux 6.1+), or the sysctl vm.unprivileged_userfaultfd=1";

static int open_full_userfaultfd(void) {
    if (agent_flags & USWAP_AGENT_FLAG_DENY_UFFD) {
        errno = EPERM;
        return -1;
    }
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) return fd;
    int device = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (device < 0) {
        errno = EPERM;
        return -1;
    }
    fd = ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    int saved = errno;
    close(device);
    errno = saved;
    return fd;
}

__attribute__((constructor)) static void agent_start(void) {
    const char *value = getenv(USWAP_AGENT_ENV);
    if (value == NULL || parse_environment(value) != 0) {
        atomic_store(&agent_state, AGENT_INACTIVE);
        return;
    }
    agent_real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    /* Started by a live `uswap run`? A program must never run on with pages it cannot get back. */
    if (kill(agent_pager_pid, 0) != 0 && errno == ESRCH) {
        agent_say("the uswap run that started this program is gone; not starting it", NULL, NULL);
        _exit(127);
    }
    if (getppid() == agent_pager_pid) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != agent_pager_pid) _exit(127); /* the pager died before the line above */
    }
    int uffd = open_full_userfaultfd();
    if (uffd < 0) {
        agent_say("cannot manage this program's memory: ", agent_uffd_advice, ". Refusing to start it (a user-mode-only userfaultfd would make such system calls fail with EFAULT).");
        _exit(126);
    }
    struct uffdio_api api = { .api = UFFD_API, .features = AGENT_WANTED_FEATURES };
    if (ioctl(uffd, UFFDIO_API, &api) != 0 || (api.features & AGENT_REQUIRED_FEATURES) != AGENT_REQUIRED_FEATURES) {
        struct uffdio_api probe = { .api = UFFD_API, .features = 0 };
        int fresh = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
        if (fresh >= 0) {
            ioctl(fresh, UFFDIO_API, &probe);
            close(fresh);
        }
        agent_say("this kernel's userfaultfd lacks a feature uswap run needs (fork, remap, remove and unmap events, "
                  "write-protect faults and UFFDIO_MOVE: Linux 6.8 or later). Refusing to start the program.", NULL, NULL);
        _exit(126);
    }
    agent_features = api.features;
    size_t scratch_bytes = (size_t)USWAP_SCRATCH_HALVES * USWAP_SCRATCH_HALF_PAGES * 4096;
    void *scratch = raw_mmap(NULL, scratch_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (scratch == MAP_FAILED) {
        agent_say("cannot map the scratch area; refusing to start the program", NULL, NULL);
        _exit(126);
    }
    syscall(SYS_madvise, scratch, scratch_bytes, MADV_NOHUGEPAGE);
    syscall(SYS_madvise, scratch, scratch_bytes, MADV_WIPEONFORK); /* a forked child starts with an empty scratch */
    struct uffdio_register r = { .range = { .start = (uintptr_t)scratch, .len = scratch_bytes }, .mode = UFFDIO_REGISTER_MODE_MISSING };
    if (ioctl(uffd, UFFDIO_REGISTER, &r) != 0) {
        agent_say("cannot register the scratch area with the userfaultfd; refusing to start the program", NULL, NULL);
        _exit(126);
    }
    agent_scratch = (uintptr_t)scratch;
    int fd = connect_to_pager();
    if (fd < 0) {
        agent_say("cannot reach the uswap run that started this program; not starting it", NULL, NULL);
        _exit(127);
    }
    struct uswap_hello hello = make_hello(USWAP_HELLO_EXEC);
    int pending = atomic_load(&agent_pending_count);
    if (pending > AGENT_PENDING_CAPACITY) pending = AGENT_PENDING_CAPACITY;
    for (int i = 0; i < pending; i++) hello.pending_bytes += agent_pending[i].length;
    struct uswap_welcome welcome;
    if (uswap_send_message(fd, &hello, sizeof hello, uffd) != 0 || await_welcome(fd, &welcome, NULL) != 0) {
        agent_say("the uswap run that started this program did not answer; not starting it", NULL, NULL);
        _exit(127);
    }
    if (welcome.flags & USWAP_WELCOME_REGISTER_WP) agent_register_mode |= UFFDIO_REGISTER_MODE_WP;
    agent_socket = fd;
    map_lock();
    agent_uffd = uffd;
    atomic_store(&agent_state, AGENT_ACTIVE);
    for (int i = 0; i < pending; i++) {
        if (agent_pending[i].length != 0) register_range(agent_pending[i].start, agent_pending[i].length);
    }
    map_unlock();
    if (start_drop_thread(fd) != 0) {
        agent_say("cannot start the agent's drop thread; not starting the program", NULL, NULL);
        _exit(126);
    }
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
