#include "system_tuning.h"
#include <stdlib.h> /* defines __GLIBC__ on glibc systems */
#if defined(__GLIBC__)
#include <malloc.h>
int sluice_tune_malloc(int arenas, int mmap_threshold) {
    return mallopt(M_ARENA_MAX, arenas) && mallopt(M_MMAP_THRESHOLD, mmap_threshold);
}
int sluice_keep_free_heap(int bytes) { return mallopt(M_TRIM_THRESHOLD, bytes); }
#else
int sluice_tune_malloc(int arenas, int mmap_threshold) { (void)arenas; (void)mmap_threshold; return 0; }
int sluice_keep_free_heap(int bytes) { (void)bytes; return 0; }
#endif

#if defined(__linux__)
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>
int sluice_exit_with_parent(int expected_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    /* The parent may have died before the call: then we are already someone else's child. */
    return getppid() == expected_parent ? 0 : 1;
}
#else
int sluice_exit_with_parent(int expected_parent) { (void)expected_parent; return 0; }
#endif
