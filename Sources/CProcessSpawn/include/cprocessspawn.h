#ifndef SLUICE_CPROCESSSPAWN_H
#define SLUICE_CPROCESSSPAWN_H
#include <sys/types.h>

/* posix_spawn with the file actions Swift's Glibc module does not declare (glibc's _np ones).
   The child gets `input`, `output` and `error` as its descriptors 0, 1 and 2 (-1: /dev/null),
   starts in `directory` (NULL: the caller's), holds no other descriptor of the caller's
   (closefrom 3), and starts with every signal at its default action and none blocked: an ignored
   SIGPIPE, or a mask a thread of the caller set, would otherwise carry over exec.
   Returns 0 and sets *pid, or the errno value of the failure. */
int sluice_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                 int input, int output, int error);

#endif
