// posix_spawn for Sluice's child processes (exec plugins, SMB helpers, pg_dump, alert commands):
// a thin C function because the descriptor-closing and directory file actions are _GNU_SOURCE
// declarations Swift does not see.
#define _GNU_SOURCE
#include "cprocessspawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

static int stream(posix_spawn_file_actions_t *actions, int fd, int target, int nullFlags) {
    if (fd < 0) return posix_spawn_file_actions_addopen(actions, target, "/dev/null", nullFlags, 0);
    return posix_spawn_file_actions_adddup2(actions, fd, target);
}

int sluice_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                 int input, int output, int error) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    sigset_t defaults, mask;
    sigfillset(&defaults);
    sigdelset(&defaults, SIGKILL);
    sigdelset(&defaults, SIGSTOP);
    sigemptyset(&mask);
    if (result == 0) result = stream(&actions, input, 0, O_RDONLY);
    if (result == 0) result = stream(&actions, output, 1, O_WRONLY);
    if (result == 0) result = stream(&actions, error, 2, O_WRONLY);
    if (result == 0 && directory != NULL) result = posix_spawn_file_actions_addchdir_np(&actions, directory);
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &mask);
    if (result == 0) result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (result == 0) result = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}
