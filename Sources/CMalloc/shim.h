#ifndef FOGLINE_CMALLOC_SHIM_H
#define FOGLINE_CMALLOC_SHIM_H
// glibc's malloc tuning (<malloc.h>), which Swift's Glibc module does not import.
#include <malloc.h>

/// Caps the number of malloc arenas (M_ARENA_MAX); returns 1 on success, 0 on error.
static inline int fogline_set_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }
#endif
