#ifndef FOGLINE_HEAP_STATS_H
#define FOGLINE_HEAP_STATS_H
#include <stddef.h>
/// Bytes of heap currently allocated (glibc mallinfo2().uordblks).
size_t fogline_heap_bytes_in_use(void);
#endif
