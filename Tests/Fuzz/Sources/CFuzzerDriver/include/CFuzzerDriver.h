#ifndef SLUICE_CFUZZERDRIVER_H
#define SLUICE_CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's entry for programs that keep their own main (SwiftPM gives executables theirs). */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
