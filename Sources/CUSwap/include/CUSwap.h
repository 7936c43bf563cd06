#ifndef CUSWAP_H
#define CUSWAP_H
/* userfaultfd structs, ioctls and constants newer than the installed 6.1 headers. */
#ifdef __linux__
#include <linux/userfaultfd.h>
#endif
#endif
