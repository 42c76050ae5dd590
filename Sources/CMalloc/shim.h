#ifndef FOGLINE_CMALLOC_SHIM_H
#define FOGLINE_CMALLOC_SHIM_H
// glibc's malloc tuning (<malloc.h>), which Swift's Glibc module does not import, and advice on
// the process's own code mappings: how fogline-edge keeps its resident memory to what it uses.
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/// Calls `advise` with the bounds of each private mapping of a file whose permissions are `perms`
/// in /proc/self/maps (inode 0, [vdso] and other mappings without a file, are skipped); returns the
/// sum of what it returned, or -1 when /proc/self/maps cannot be read.
static inline long fogline_advise_file_mappings(
    const char *perms, long (*advise)(unsigned long start, unsigned long end, void *context), void *context
) {
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
        char mappingPerms[5];
        if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, mappingPerms, &inode) != 4) continue;
        if (strcmp(mappingPerms, perms) != 0 || inode == 0) continue;
        advised += advise(start, end, context);
    }
    fclose(maps);
    return advised;
}

static inline long fogline_advise_whole_mapping(unsigned long start, unsigned long end, void *context) {
    (void)context;
    return madvise((void *)start, end - start, MADV_DONTNEED) == 0 ? (long)(end - start) : 0;
}

/// Drops this process's mappings of the pages of every executable file mapping (its own code and
/// its libraries'), as MADV_DONTNEED does for pages that were never written: they stay in the page
/// cache, and those still in use are mapped again on their next access. Only private, read-only,
/// executable mappings of a file are advised. Returns the bytes advised, or -1 when
/// /proc/self/maps cannot be read.
static inline long fogline_release_code_pages(void) {
    return fogline_advise_file_mappings("r-xp", fogline_advise_whole_mapping, NULL);
}

/// Advises the runs of resident file pages (pagemap bit 63: present, bit 61: file page, not a copy
/// made on write) of one mapping; `context` points to the open /proc/self/pagemap descriptor.
static inline long fogline_advise_file_pages(unsigned long start, unsigned long end, void *context) {
    const int pagemap = *(const int *)context;
    const unsigned long pageSize = (unsigned long)sysconf(_SC_PAGESIZE);
    long advised = 0;
    unsigned long runStart = 0;
    uint64_t entries[512];
    unsigned long page = start;
    while (page < end) {
        unsigned long count = (end - page) / pageSize;
        if (count > 512) count = 512;
        ssize_t got = pread(pagemap, entries, count * sizeof entries[0], (off_t)(page / pageSize * sizeof entries[0]));
        if (got < (ssize_t)sizeof entries[0]) break;
        count = (unsigned long)got / sizeof entries[0];
        for (unsigned long index = 0; index < count; index++, page += pageSize) {
            int filePage = (entries[index] >> 63 & 1) && (entries[index] >> 61 & 1);
            if (filePage && runStart == 0) runStart = page;
            if (!filePage && runStart != 0) {
                if (madvise((void *)runStart, page - runStart, MADV_DONTNEED) == 0) advised += (long)(page - runStart);
                runStart = 0;
            }
        }
    }
    // Up to the last page read (all of the mapping unless pagemap stopped answering).
    if (runStart != 0 && madvise((void *)runStart, page - runStart, MADV_DONTNEED) == 0) advised += (long)(page - runStart);
    return advised;
}

/// Drops this process's mappings of the never-written pages of every private read-only file
/// mapping (constants, unwind tables and metadata of the binary and its libraries, mostly read at
/// start-up): /proc/self/pagemap tells which resident pages are still the file's (not copied on
/// write, as the relocated ones are). A read-only mapping cannot be written meanwhile, so no
/// written page is dropped; the dropped ones stay in the page cache and come back when read.
/// Returns the bytes advised, or -1 when /proc/self/maps or /proc/self/pagemap cannot be read.
static inline long fogline_release_read_only_file_pages(void) {
    int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pagemap < 0) return -1;
    long advised = fogline_advise_file_mappings("r--p", fogline_advise_file_pages, &pagemap);
    close(pagemap);
    return advised;
}
#endif
