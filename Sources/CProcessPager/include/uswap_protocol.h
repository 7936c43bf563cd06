#ifndef USWAP_PROTOCOL_H
#define USWAP_PROTOCOL_H
/*
 * The protocol between `uswap run` (the pager) and the agent preloaded into the program
 * (libuswap-agent.so). Both sides include this header; the structs are exchanged as whole
 * SOCK_SEQPACKET messages on one machine, in native byte order.
 *
 * The pager listens on the abstract Unix socket named in USWAP_AGENT. Each process image that
 * loads the agent connects once:
 *   agent -> HELLO (kind EXEC, with the userfaultfd as SCM_RIGHTS)  pager -> WELCOME
 *   a child made by fork reconnects in its atfork handler:
 *   agent -> HELLO (kind FORK_CHILD, no descriptor)  pager -> WELCOME (with the child's userfaultfd)
 * then, on the same connection:
 *   agent -> DROPPER (the agent thread's tid)
 *   pager -> EVICT (drop one scratch half; move victims into the other; unshare pages)
 *   agent -> EVICT_DONE (per victim: its scratch index, or -errno)
 *   agent -> FORK_BEGIN (from pthread_atfork prepare)        pager -> FORK_READY
 *   agent -> FORK_FAILED (fork returned -1)
 * The moves are the agent's: the kernel refuses UFFDIO_MOVE from another process (EINVAL).
 * A status client (`uswap status`) sends STATUS and gets one STATUS_REPLY with JSON text.
 */
#include <stdint.h>

#define USWAP_PROTOCOL_VERSION 1u
/* The environment variable that tells the agent it runs under `uswap run`:
 * "<version>:<abstract socket name>:<pager pid>:<flags>". */
#define USWAP_AGENT_ENV "USWAP_AGENT"
/* Flags in USWAP_AGENT (a hexadecimal number). */
#define USWAP_AGENT_FLAG_DENY_UFFD 0x1u   /* tests: behave as if a full userfaultfd were refused */
#define USWAP_AGENT_FLAG_VERBOSE 0x2u     /* print what the agent registers (debugging) */

/* Pages in each of the two scratch halves the pager moves victims into. */
#define USWAP_SCRATCH_HALF_PAGES 64u
#define USWAP_SCRATCH_HALVES 2u
/* Most pages one EVICT asks the agent to unshare (make exclusive with MADV_POPULATE_WRITE). */
#define USWAP_MAX_UNSHARE 64u
/* Longest reason text in a REFUSE or status reply chunk. */
#define USWAP_TEXT_BYTES 4000u

enum uswap_message_type {
    USWAP_MSG_HELLO = 1,
    USWAP_MSG_WELCOME = 2,
    USWAP_MSG_REFUSE = 3,
    USWAP_MSG_EVICT = 4,
    USWAP_MSG_EVICT_DONE = 5,
    USWAP_MSG_FORK_BEGIN = 6,
    USWAP_MSG_FORK_READY = 7,
    USWAP_MSG_FORK_FAILED = 8,
    USWAP_MSG_DROPPER = 9,
    USWAP_MSG_STATUS = 10,
    USWAP_MSG_STATUS_REPLY = 11,
};

enum uswap_hello_kind {
    USWAP_HELLO_EXEC = 0,       /* a new program image (constructor) */
    USWAP_HELLO_FORK_CHILD = 1, /* a child of fork (atfork child handler) */
};

struct uswap_header {
    uint32_t type;
    uint32_t length; /* bytes of the whole message */
    uint64_t sequence;
};

struct uswap_hello {
    struct uswap_header header;
    uint32_t version;
    uint32_t kind;
    int32_t pid;
    int32_t parent_pid;
    uint64_t features;      /* what UFFDIO_API granted */
    uint64_t scratch_base;  /* USWAP_SCRATCH_HALVES * USWAP_SCRATCH_HALF_PAGES pages, registered */
    uint32_t scratch_pages;
    uint32_t page_size;
    uint64_t fork_sequence; /* FORK_CHILD: the sequence of the parent's FORK_BEGIN */
    uint64_t pending_bytes; /* bytes mapped before the agent could register them (unmanaged) */
};

/* WELCOME flags. */
#define USWAP_WELCOME_REGISTER_WP 0x1u /* register mappings for write-protect faults too (lazy policy) */

struct uswap_welcome {
    struct uswap_header header;
    uint32_t session;
    uint32_t flags;
};

struct uswap_text {
    struct uswap_header header;
    char text[USWAP_TEXT_BYTES];
};

/* Drop scratch half `drop_half` (its first `drop_pages` pages; -1: none), then move the
 * `move_count` pages at `pages` (ascending addresses) into scratch half `move_half`, densely from
 * its first page, then unshare the `unshare_count` pages at `unshare`. */
struct uswap_evict {
    struct uswap_header header;
    int32_t drop_half;
    uint32_t drop_pages;
    int32_t move_half;
    uint32_t move_count;
    uint32_t unshare_count;
    uint32_t reserved;
    uint64_t pages[USWAP_SCRATCH_HALF_PAGES];
    uint64_t unshare[USWAP_MAX_UNSHARE];
};

struct uswap_evict_done {
    struct uswap_header header;
    int32_t drop_result;  /* 0 or -errno of the drop */
    uint32_t unshared;    /* pages made exclusive */
    uint32_t moved;       /* pages now in the half */
    uint32_t reserved;
    int32_t results[USWAP_SCRATCH_HALF_PAGES]; /* per page: its index in the half, or -errno */
};

struct uswap_dropper {
    struct uswap_header header;
    int32_t tid;
    int32_t reserved;
};

#endif /* USWAP_PROTOCOL_H */
