// Kernel interfaces Swift cannot express; see include/CUSwap.h.
#ifdef __linux__
#define _GNU_SOURCE
#include "CUSwap.h"
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <linux/futex.h>

#define CUSWAP_MAX_REGIONS 256

/* One registration: a region's address range and the function that serves its faults.
 * `base` == 0 marks a free slot. `inflight` counts handlers running for the entry; unregister
 * clears `base` then waits for `inflight` to drain (both sequentially consistent, so either the
 * handler sees the cleared base or unregister sees the handler). */
struct cuswap_entry {
    _Atomic uintptr_t base;
    _Atomic uintptr_t end;
    _Atomic(cuswap_fault_fn) fn;
    _Atomic(void *) context;
    _Atomic int inflight;
    _Atomic int claimed;
};

static struct cuswap_entry entries[CUSWAP_MAX_REGIONS];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static int install_count;
static struct sigaction previous_action;

/* Returns 1 handled, 0 failed, -1 not ours. */
static int dispatch(uintptr_t address, int access) {
    for (int i = 0; i < CUSWAP_MAX_REGIONS; i++) {
        struct cuswap_entry *e = &entries[i];
        uintptr_t base = atomic_load(&e->base);
        if (base == 0 || address < base || address >= atomic_load(&e->end)) continue;
        atomic_fetch_add(&e->inflight, 1);
        if (atomic_load(&e->base) != base) { atomic_fetch_sub(&e->inflight, 1); continue; }
        cuswap_fault_fn fn = atomic_load(&e->fn);
        void *context = atomic_load(&e->context);
        int result = fn(context, address, access);
        atomic_fetch_sub(&e->inflight, 1);
        return result == CUSWAP_FAULT_HANDLED ? 1 : 0;
    }
    return -1;
}

static void chain(int sig, siginfo_t *info, void *uc) {
    struct sigaction prev = previous_action;
    if ((prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction != NULL) {
        prev.sa_sigaction(sig, info, uc);
    } else if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        /* The default action: restore it; the access faults again and the process dies of
         * SIGBUS as it would have without us. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGBUS, &dfl, NULL);
    } else {
        prev.sa_handler(sig);
    }
}

static void trampoline(int sig, siginfo_t *info, void *uc) {
    int saved_errno = errno;
    int access = CUSWAP_ACCESS_UNKNOWN;
#if defined(__x86_64__)
    if (uc != NULL) {
        /* The page-fault error code: bit 1 is X86_PF_WRITE. */
        access = (((ucontext_t *)uc)->uc_mcontext.gregs[REG_ERR] & 2) ? CUSWAP_ACCESS_WRITE : CUSWAP_ACCESS_READ;
    }
#endif
    int result = -1;
    if (info->si_code == BUS_MCEERR_AR) {
        /* A poisoned page (the pager's UFFDIO_POISON of a failed swap-in, or a real memory
         * error): the region may clear its own marker, so that the next access retries; the
         * thread gets its SIGBUS either way. */
        dispatch((uintptr_t)info->si_addr, CUSWAP_ACCESS_POISONED);
    } else if (info->si_code != BUS_MCEERR_AO) {
        /* Asynchronous machine-check reports are never ours. */
        result = dispatch((uintptr_t)info->si_addr, access);
    }
    if (result != 1) chain(sig, info, uc);
    errno = saved_errno;
}

int cuswap_sigbus_retain(void) {
    int rc = 0;
    pthread_mutex_lock(&install_lock);
    if (install_count == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = trampoline;
        action.sa_flags = SA_SIGINFO | SA_RESTART;
        /* Nothing else interrupts a fault being served (an application signal handler touching
         * the region would otherwise re-enter the pager on the same thread). */
        sigfillset(&action.sa_mask);
        sigdelset(&action.sa_mask, SIGSEGV);
        sigdelset(&action.sa_mask, SIGILL);
        sigdelset(&action.sa_mask, SIGFPE);
        if (sigaction(SIGBUS, &action, &previous_action) != 0) rc = errno;
    }
    if (rc == 0) install_count++;
    pthread_mutex_unlock(&install_lock);
    return rc;
}

void cuswap_sigbus_release(void) {
    pthread_mutex_lock(&install_lock);
    if (install_count > 0 && --install_count == 0) {
        struct sigaction current;
        sigaction(SIGBUS, NULL, &current);
        /* Put back what we found, unless someone installed another handler after us. */
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == trampoline) {
            sigaction(SIGBUS, &previous_action, NULL);
        }
    }
    pthread_mutex_unlock(&install_lock);
}

int cuswap_sigbus_register(uintptr_t base, size_t length, cuswap_fault_fn fn, void *context) {
    for (int i = 0; i < CUSWAP_MAX_REGIONS; i++) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&entries[i].claimed, &expected, 1)) continue;
        atomic_store(&entries[i].fn, fn);
        atomic_store(&entries[i].context, context);
        atomic_store(&entries[i].end, base + length);
        atomic_store(&entries[i].base, base);
        return i;
    }
    return -ENOSPC;
}

void cuswap_sigbus_unregister(int index) {
    if (index < 0 || index >= CUSWAP_MAX_REGIONS) return;
    struct cuswap_entry *e = &entries[index];
    atomic_store(&e->base, 0);
    while (atomic_load(&e->inflight) != 0) sched_yield();
    atomic_store(&e->end, 0);
    atomic_store(&e->claimed, 0);
}

int cuswap_sigbus_capacity(void) { return CUSWAP_MAX_REGIONS; }

int cuswap_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
    struct timespec t, *tp = NULL;
    if (timeout_ns >= 0) {
        t.tv_sec = (time_t)(timeout_ns / 1000000000);
        t.tv_nsec = (long)(timeout_ns % 1000000000);
        tp = &t;
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tp, NULL, 0);
    return rc == 0 ? 0 : errno;
}

int cuswap_futex_wake(uint32_t *word, int count) {
    long rc = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}

void cuswap_block_async_signals(void) {
    sigset_t set;
    sigfillset(&set);
    sigdelset(&set, SIGBUS);
    sigdelset(&set, SIGSEGV);
    sigdelset(&set, SIGILL);
    sigdelset(&set, SIGFPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void cuswap_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

uint64_t cuswap_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uintptr_t cuswap_thread_token(void) { return (uintptr_t)pthread_self(); }

uint64_t cuswap_process_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int cuswap_usable_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int count = CPU_COUNT(&set);
    return count > 0 ? count : 1;
}
#endif
