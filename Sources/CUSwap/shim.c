// Kernel interfaces Swift cannot express; see include/CUSwap.h.
