// libFuzzer's driver, for the fuzz executables' shared main (Sources/FuzzDriver).
//
// Defined by libFuzzer's runtime, which `-sanitize=fuzzer` links; only the fuzz build
// (-DFUZZING) calls it, so the ordinary build never needs the symbol. The executable keeps its
// own `main`, so the linker leaves out libFuzzer's (it lives in its own archive member).
#ifndef USWAP_FUZZ_ENGINE_H
#define USWAP_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with the process's arguments, calling `callback` for every input.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
