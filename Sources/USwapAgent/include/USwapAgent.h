#ifndef USWAP_AGENT_H
#define USWAP_AGENT_H
/*
 * libuswap-agent.so: the small part of `uswap run` that lives inside the program.
 *
 * `uswap run` preloads it (LD_PRELOAD, before Debian's libmimalloc.so.2) into every process image
 * it starts. Without the USWAP_AGENT environment variable it does nothing but pass mmap, munmap,
 * mremap, madvise and fork through to the C library. With it, its constructor creates a full
 * userfaultfd (kernel-mode faults included), hands it to the pager over a Unix socket, registers
 * every private anonymous mapping the program makes through mmap, and runs one small thread
 * that drops the pages the pager has taken out of the program. See docs/RUN.md.
 */
#include <stdint.h>

/* The protocol version this agent speaks (USWAP_PROTOCOL_VERSION). */
uint32_t uswap_agent_protocol_version(void);

/* 1 when this process image is managed by a live `uswap run`, 0 otherwise. */
int uswap_agent_is_active(void);

#endif /* USWAP_AGENT_H */
