#ifndef CPROCESSPAGER_H
#define CPROCESSPAGER_H
/*
 * What the ProcessPager target needs from C beside CUSwap's userfaultfd ioctls: socket messages
 * with passed descriptors, the userfaultfd message union flattened (events included), epoll without its packed struct, process_vm_readv,
 * pidfd_open, and the agent protocol (uswap_protocol.h). Every function returns 0 or a count
 * on success and -errno on failure, so Swift never reads the global errno.
 */
#include <stdint.h>
#include <stddef.h>
#include "uswap_protocol.h"
#include "uswap_socket.h"

#ifdef __linux__
#include <sys/types.h>

/* One userfaultfd message, flattened. */
struct uswap_uffd_event {
    uint8_t event;      /* UFFD_EVENT_* */
    uint8_t reserved[3];
    uint32_t tid;       /* page faults with UFFD_FEATURE_THREAD_ID */
    uint64_t flags;     /* page fault flags (UFFD_PAGEFAULT_FLAG_*), or remap flags */
    uint64_t address;   /* page fault address; remove/unmap start; remap from */
    uint64_t end;       /* remove/unmap end; remap to */
    uint64_t length;    /* remap length */
    int32_t fork_fd;    /* fork: the child's userfaultfd, now a descriptor of this process */
    int32_t reserved2;
};

/* Event numbers, re-exported as values. */
extern const uint8_t uswap_event_pagefault;
extern const uint8_t uswap_event_fork;
extern const uint8_t uswap_event_remap;
extern const uint8_t uswap_event_remove;
extern const uint8_t uswap_event_unmap;
extern const uint64_t uswap_pagefault_flag_write;
extern const uint64_t uswap_pagefault_flag_wp;

/* Reads up to `capacity` messages without blocking; returns how many, or -errno (-EAGAIN: none). */
int uswap_uffd_read_events(int fd, struct uswap_uffd_event *events, int capacity);

/* Whether the memory behind a userfaultfd still exists: a harmless UFFDIO_WRITEPROTECT (clear)
 * of one page at `address`; returns -ESRCH once the process exited or exec'd. */
int uswap_probe_mm(int uffd, uint64_t address);

/* Opens a full (kernel-mode faults too) userfaultfd and closes it: 0 when this process may,
 * else -errno. Tries userfaultfd(2), then /dev/userfaultfd. */
int uswap_probe_full_userfaultfd(uint64_t *features);

/* Reads `length` bytes at `remote` in process `pid` into `local`; returns bytes read or -errno. */
int64_t uswap_read_process(int pid, void *local, uint64_t remote, uint64_t length);

/* A listening SOCK_SEQPACKET socket on the abstract name `name` (no leading NUL); returns the
 * descriptor or -errno. */
int uswap_listen_abstract(const char *name);
/* Connects to the abstract name; returns the descriptor or -errno. */
int uswap_connect_abstract(const char *name);
/* Accepts one connection (non-blocking, close-on-exec); returns it or -errno. */
int uswap_accept(int fd);
/* The peer's pid and uid (SO_PEERCRED); returns 0 or -errno. */
int uswap_peer_credentials(int fd, int32_t *pid, uint32_t *uid);
/* epoll without the packed struct: returns the descriptor or -errno. */
int uswap_epoll_create(void);
/* Adds `fd` for input (EPOLLIN | EPOLLRDHUP) with `token`; returns 0 or -errno. */
int uswap_epoll_add(int epoll, int fd, uint64_t token);
/* Removes `fd`; returns 0 or -errno. */
int uswap_epoll_remove(int epoll, int fd);
/* Waits up to `timeout_ms` (-1: forever, 0: poll); fills tokens and flags (1 input, 2 hang-up
 * or error); returns the count or -errno. */
int uswap_epoll_wait(int epoll, uint64_t *tokens, uint32_t *flags, int capacity, int timeout_ms);
/* Gives the CPU to another runnable thread of this CPU, if there is one (sched_yield). */
void uswap_yield(void);

/* An eventfd (non-blocking, close-on-exec); returns it or -errno. */
int uswap_eventfd(void);
/* Adds 1 to the eventfd. */
void uswap_eventfd_signal(int fd);
/* Reads and zeroes the eventfd's count (0 when none). */
uint64_t uswap_eventfd_drain(int fd);

/* pidfd_open(2); returns the descriptor or -errno. */
int uswap_pidfd_open(int pid);
/* The calling thread's id. */
int32_t uswap_gettid(void);
/* Closes a descriptor. */
void uswap_close(int fd);

/* Opens the regular file that descriptor `fd` of process `pid` refers to (/proc/PID/fd/FD), for
 * reading, never blocking (a FIFO put there since the caller looked is opened and refused);
 * fills its size and the process's file position (/proc/PID/fdinfo/FD's pos). Returns the new
 * descriptor (close-on-exec), or -errno: -ENOENT when the descriptor is gone, -EBADF when it is
 * not a regular file, -EACCES/-EPERM when this process may not open it. */
int uswap_open_process_file(int pid, int fd, int64_t *size, int64_t *position);
/* cachestat(2) (Linux 6.5+): how many pages of the file behind `fd` in [offset, offset +
 * length) are in the page cache; returns the count or -errno (-ENOSYS on older kernels). */
int64_t uswap_cached_pages(int fd, uint64_t offset, uint64_t length);
/* posix_fadvise(POSIX_FADV_DONTNEED) over [offset, offset + length): starts writeback of the
 * dirty pages there and drops the clean ones no process maps; returns 0 or -errno. */
int uswap_drop_file_cache(int fd, uint64_t offset, uint64_t length);

#endif /* __linux__ */
#endif /* CPROCESSPAGER_H */
