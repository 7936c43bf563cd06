#ifndef USWAP_SOCKET_H
#define USWAP_SOCKET_H
/*
 * One SOCK_SEQPACKET message with at most one passed descriptor (SCM_RIGHTS), sent or received:
 * the agent and the pager both use these. Both return -errno on failure.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Sends `message`, with `pass_fd` as SCM_RIGHTS when >= 0; returns 0 or -errno. */
static inline int uswap_send_message(int fd, const void *message, size_t length, int pass_fd) {
    struct iovec iov = { .iov_base = (void *)message, .iov_len = length };
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (pass_fd >= 0) {
        memset(&control, 0, sizeof control);
        m.msg_control = control.buffer;
        m.msg_controllen = sizeof control.buffer;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(fd, &m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return n == (ssize_t)length ? 0 : -EIO;
}

/* Receives one message (without blocking when `nonblocking`); a passed descriptor lands in
 * *received_fd (else -1; extra ones are closed). Returns the length (0: peer closed) or -errno. */
static inline int64_t uswap_receive_message(int fd, void *buffer, size_t capacity, int *received_fd, int nonblocking) {
    struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
    union {
        char buffer[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } control;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer };
    *received_fd = -1;
    ssize_t n;
    do { n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0)); } while (n < 0 && errno == EINTR);
    if (n < 0) return -(int64_t)errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[4];
        memcpy(fds, CMSG_DATA(c), count * sizeof(int));
        for (size_t i = 0; i < count; i++) {
            if (*received_fd < 0) *received_fd = fds[i];
            else close(fds[i]);
        }
    }
    return n;
}
#endif /* USWAP_SOCKET_H */
