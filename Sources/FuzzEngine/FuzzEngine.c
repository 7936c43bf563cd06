// The header is the whole target: LLVMFuzzerRunDriver comes from libFuzzer's runtime.
#include "FuzzEngine.h"
