#ifndef SLUICE_SYSTEM_TUNING_H
#define SLUICE_SYSTEM_TUNING_H
/* mallopt is declared in <malloc.h>, which Swift's Glibc module does not import.
   Limits glibc to `arenas` malloc arenas and serves blocks of `mmap_threshold` bytes or more with
   mmap (returned to the system when freed) instead of letting the threshold float upwards. */
int sluice_tune_malloc(int arenas, int mmap_threshold);
/* Keeps up to `bytes` of free memory at the top of the heap instead of returning it at once
   (M_TRIM_THRESHOLD), so a block freed and allocated again is not faulted in again. */
int sluice_keep_free_heap(int bytes);
/* Linux: this process gets SIGKILL when its parent ends (a helper never outlives the daemon,
   even one killed with SIGKILL). Returns 1 when the parent is already gone, -1 on error. */
int sluice_exit_with_parent(int expected_parent);
#endif
