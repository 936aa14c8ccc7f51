#include "system_tuning.h"
#include <stdlib.h> /* defines __GLIBC__ on glibc systems */
#if defined(__GLIBC__)
#include <malloc.h>
int sluice_tune_malloc(int arenas, int mmap_threshold) {
    return mallopt(M_ARENA_MAX, arenas) && mallopt(M_MMAP_THRESHOLD, mmap_threshold);
}
#else
int sluice_tune_malloc(int arenas, int mmap_threshold) { (void)arenas; (void)mmap_threshold; return 0; }
#endif
