// See include/CProcessPager.h.
#ifdef __linux__
#define _GNU_SOURCE
#include "CProcessPager.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

const uint8_t uswap_event_pagefault = UFFD_EVENT_PAGEFAULT;
const uint8_t uswap_event_fork = UFFD_EVENT_FORK;
const uint8_t uswap_event_remap = UFFD_EVENT_REMAP;
const uint8_t uswap_event_remove = UFFD_EVENT_REMOVE;
const uint8_t uswap_event_unmap = UFFD_EVENT_UNMAP;
const uint64_t uswap_pagefault_flag_write = UFFD_PAGEFAULT_FLAG_WRITE;
const uint64_t uswap_pagefault_flag_wp = UFFD_PAGEFAULT_FLAG_WP;

int uswap_uffd_read_events(int fd, struct uswap_uffd_event *events, int capacity) {
    struct uffd_msg messages[64];
    if (capacity > 64) capacity = 64;
    if (capacity <= 0) return 0;
    ssize_t n;
    do { n = read(fd, messages, sizeof(struct uffd_msg) * (size_t)capacity); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    int count = (int)(n / (ssize_t)sizeof(struct uffd_msg));
    for (int i = 0; i < count; i++) {
        struct uffd_msg *m = &messages[i];
        struct uswap_uffd_event *e = &events[i];
        memset(e, 0, sizeof *e);
        e->event = m->event;
        e->fork_fd = -1;
        switch (m->event) {
        case UFFD_EVENT_PAGEFAULT:
            e->flags = m->arg.pagefault.flags;
            e->address = m->arg.pagefault.address;
            e->tid = m->arg.pagefault.feat.ptid;
            break;
        case UFFD_EVENT_FORK:
            e->fork_fd = (int32_t)m->arg.fork.ufd;
            break;
        case UFFD_EVENT_REMAP:
            e->address = m->arg.remap.from;
            e->end = m->arg.remap.to;
            e->length = m->arg.remap.len;
            break;
        case UFFD_EVENT_REMOVE:
        case UFFD_EVENT_UNMAP:
            e->address = m->arg.remove.start;
            e->end = m->arg.remove.end;
            break;
        default:
            break;
        }
    }
    return count;
}

int uswap_probe_mm(int uffd, uint64_t address) {
    struct uffdio_writeprotect w = { .range = { .start = address, .len = 4096 }, .mode = 0 };
    return ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0 ? 0 : -errno;
}

int uswap_probe_full_userfaultfd(uint64_t *features) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    int error = fd < 0 ? errno : 0;
    if (fd < 0) {
        int device = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        if (device >= 0) {
            fd = ioctl(device, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
            close(device);
        }
    }
    if (fd < 0) return -(error ? error : EPERM);
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    int rc = ioctl(fd, UFFDIO_API, &api) == 0 ? 0 : -errno;
    if (rc == 0 && features) *features = api.features;
    close(fd);
    return rc;
}

int64_t uswap_read_process(int pid, void *local, uint64_t remote, uint64_t length) {
    struct iovec l = { .iov_base = local, .iov_len = length };
    struct iovec r = { .iov_base = (void *)(uintptr_t)remote, .iov_len = length };
    ssize_t n;
    do { n = process_vm_readv(pid, &l, 1, &r, 1, 0); } while (n < 0 && errno == EINTR);
    return n < 0 ? -(int64_t)errno : (int64_t)n;
}

static socklen_t abstract_address(const char *name, struct sockaddr_un *address) {
    size_t length = strlen(name);
    if (length == 0 || length >= sizeof address->sun_path - 1) return 0;
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    memcpy(address->sun_path + 1, name, length);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
}

int uswap_listen_abstract(const char *name) {
    struct sockaddr_un address;
    socklen_t length = abstract_address(name, &address);
    if (length == 0) return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -errno;
    if (bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, 128) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int uswap_connect_abstract(const char *name) {
    struct sockaddr_un address;
    socklen_t length = abstract_address(name, &address);
    if (length == 0) return -ENAMETOOLONG;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    while (connect(fd, (struct sockaddr *)&address, length) != 0) {
        if (errno == EINTR) continue;
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int uswap_accept(int fd) {
    int rc;
    do { rc = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : rc;
}

int uswap_peer_credentials(int fd, int32_t *pid, uint32_t *uid) {
    struct ucred c;
    socklen_t length = sizeof c;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &length) != 0) return -errno;
    *pid = c.pid;
    *uid = c.uid;
    return 0;
}

int uswap_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int uswap_epoll_add(int epoll, int fd, uint64_t token) {
    struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data = { .u64 = token } };
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e) == 0 ? 0 : -errno;
}

int uswap_epoll_remove(int epoll, int fd) {
    return epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int uswap_epoll_wait(int epoll, uint64_t *tokens, uint32_t *flags, int capacity, int timeout_ms) {
    struct epoll_event events[64];
    if (capacity > 64) capacity = 64;
    int n;
    do { n = epoll_wait(epoll, events, capacity, timeout_ms); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        tokens[i] = events[i].data.u64;
        flags[i] = ((events[i].events & EPOLLIN) ? 1u : 0u) |
                   ((events[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) ? 2u : 0u);
    }
    return n;
}

void uswap_yield(void) { sched_yield(); }

int uswap_eventfd(void) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

void uswap_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t n;
    do { n = write(fd, &one, sizeof one); } while (n < 0 && errno == EINTR);
}

uint64_t uswap_eventfd_drain(int fd) {
    uint64_t value = 0;
    ssize_t n;
    do { n = read(fd, &value, sizeof value); } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof value ? value : 0;
}

int uswap_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int32_t uswap_gettid(void) { return (int32_t)syscall(SYS_gettid); }

void uswap_close(int fd) { close(fd); }

/* The `pos:` figure of /proc/PID/fdinfo/FD, or -errno. */
static int64_t fd_position(int pid, int fd) {
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
    int info = open(path, O_RDONLY | O_CLOEXEC);
    if (info < 0) return -errno;
    ssize_t n = read(info, text, sizeof text - 1);
    int saved = errno;
    close(info);
    if (n < 0) return -saved;
    text[n] = 0;
    long long position;
    if (sscanf(text, "pos: %lld", &position) != 1 || position < 0) return -EINVAL;
    return (int64_t)position;
}

int uswap_open_process_file(int pid, int fd, int64_t *size, int64_t *position) {
    int64_t at = fd_position(pid, fd);
    if (at < 0) return (int)at;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
    struct stat before;
    if (stat(path, &before) != 0) return -errno;
    if (!S_ISREG(before.st_mode)) return -EBADF;  /* a pipe, socket, device: never opened */
    int file = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (file < 0) return -errno;
    struct stat opened;
    if (fstat(file, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_dev != before.st_dev
        || opened.st_ino != before.st_ino) {
        close(file);  /* the descriptor was closed and reused between the stat and the open */
        return -EBADF;
    }
    *size = (int64_t)opened.st_size;
    *position = at;
    return file;
}

#ifndef __NR_cachestat
#define __NR_cachestat 451  /* the same on every architecture (the tables were unified at 424) */
#endif

int64_t uswap_cached_pages(int fd, uint64_t offset, uint64_t length) {
    struct { uint64_t off, len; } range = { offset, length };
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } stat;
    if (syscall(__NR_cachestat, fd, &range, &stat, 0) != 0) return -errno;
    return (int64_t)stat.nr_cache;
}

int uswap_drop_file_cache(int fd, uint64_t offset, uint64_t length) {
    return -posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED);
}
#endif
