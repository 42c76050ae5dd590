#ifndef FOGLINE_CMALLOC_SHIM_H
#define FOGLINE_CMALLOC_SHIM_H
// glibc's malloc tuning (<malloc.h>), which Swift's Glibc module does not import, and advice on
// the process's own code mappings: how fogline-edge keeps its resident memory to what it uses.
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/// Caps the number of malloc arenas (M_ARENA_MAX); returns 1 on success, 0 on error.
static inline int fogline_set_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

/// Fixes the size from which malloc maps a block of its own, given back when freed
/// (M_MMAP_THRESHOLD; setting it also stops glibc from raising it after each such free), and the
/// free top of the heap above which free() gives memory back (M_TRIM_THRESHOLD). Returns 1 when
/// both were set.
static inline int fogline_set_malloc_thresholds(int mmapBytes, int trimBytes) {
    return mallopt(M_MMAP_THRESHOLD, mmapBytes) && mallopt(M_TRIM_THRESHOLD, trimBytes);
}

/// Gives the heap that malloc holds freed back to the system (malloc_trim); 1 if it gave any.
static inline int fogline_trim_heap(void) { return malloc_trim(0); }

/// Drops this process's mappings of the pages of every executable file mapping (its own code and
/// its libraries'), as MADV_DONTNEED does for pages that were never written: they stay in the page
/// cache, and those still in use are mapped again on their next access. Only private, read-only,
/// executable mappings of a file are advised. Returns the bytes advised, or -1 when
/// /proc/self/maps cannot be read.
static inline long fogline_release_code_pages(void) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) return -1;
    char line[4352];
    long advised = 0;
    int atLineStart = 1;
    while (fgets(line, sizeof line, maps) != NULL) {
        int startsLine = atLineStart;
        atLineStart = strchr(line, '\n') != NULL;  // a path longer than the buffer continues the line
        if (!startsLine) continue;
        unsigned long start, end, inode;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, perms, &inode) != 4) continue;
        // inode 0: [vdso] and other mappings without a file.
        if (strcmp(perms, "r-xp") != 0 || inode == 0) continue;
        if (madvise((void *)start, end - start, MADV_DONTNEED) == 0) advised += (long)(end - start);
    }
    fclose(maps);
    return advised;
}
#endif
