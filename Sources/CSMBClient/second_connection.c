// The SMB source's second connection: a child process that reads every other block of a large
// file while the source reads the blocks between (SMBSecondConnection.swift says when).
//
// Why a child process: libsmbclient has no thread support (two contexts may not run at once in
// one process) and `smbc_read` returns only when its whole answer is in, so one process has one
// read in flight; with SMB3 encryption the server encrypts one answer while the client waits, and
// the reverse. Why forked, not started: libsmbclient and its hundred libraries are loaded here
// already; a started helper paid for linking them, its login and a pipe's copies, more than the
// overlap saved (BENCHMARKS.md). The child runs only the C below (never Swift, whose runtime locks
// another thread may have held at the fork), keeps no descriptor of ours but its end of a socket pair, dies
// with the thread that forked it, and writes its reads into memory shared with us.
#define _GNU_SOURCE
#include "csmbclient.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct request { int64_t offset; int32_t length; int32_t url_length; };
struct answer { int64_t count; int32_t error; int32_t unused; };

/// MSG_NOSIGNAL: a child that is gone is EPIPE here, not a SIGPIPE that would end the process
/// hosting Sluice (a test runner, a program embedding it).
static int write_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

/// 1: read `size` bytes; 0: end of input before the first byte; -1: error or a partial message.
static int read_all(int fd, void *data, size_t size) {
    char *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, p + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return done == 0 ? 0 : -1;
        if (n < 0) return -1;
        done += (size_t)n;
    }
    return 1;
}

// The child's login: the parent's strings, in the copy of its memory the fork gave the child.
static const char *child_user, *child_domain, *child_password;

static void child_auth(SMBCCTX *c, const char *server, const char *share, char *workgroup, int workgroup_size,
                       char *user, int user_size, char *password, int password_size) {
    (void)c; (void)server; (void)share;
    if (child_domain[0] && workgroup_size > 0) snprintf(workgroup, (size_t)workgroup_size, "%s", child_domain);
    if (user_size > 0) snprintf(user, (size_t)user_size, "%s", child_user);
    if (password_size > 0) snprintf(password, (size_t)password_size, "%s", child_password);
}

/// Keeps only its end of the socket pair (as 3) and /dev/null as 0, 1 and 2: the child must hold
/// no socket, file or pipe end of the parent's (a database connection, its standard output).
static int keep_only(int channel) {
    if (channel != 3 && dup2(channel, 3) < 0) _exit(126);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    if (close_range(4, ~0U, 0) != 0) {
        long last = sysconf(_SC_OPEN_MAX);
        for (int fd = 4; fd < (last > 0 && last < 65536 ? last : 65536); fd++) close(fd);
    }
    return 3;
}

static void child_main(pid_t parent, int channel, unsigned char *block, size_t block_size, const sluice_smbc_settings *settings,
                       const char *user, const char *domain, const char *password) {
    // Set here, not before the fork: another thread may start a second connection of its own.
    child_user = user;
    child_domain = domain;
    child_password = password;
    // Dies with the thread that forked it, even a SIGKILLed parent; Ctrl-C is the parent's to handle.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    signal(SIGINT, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    channel = keep_only(channel);

    SMBCCTX *ctx = smbc_new_context();
    int failed = 0;
    if (!ctx) {
        failed = errno ? errno : ENOMEM;
    } else {
        sluice_smbc_configure(ctx, settings);
        smbc_setFunctionAuthDataWithContext(ctx, child_auth);
        if (!smbc_init_context(ctx)) {
            failed = errno ? errno : EINVAL;
            smbc_free_context(ctx, 1);
            ctx = NULL;
        }
    }
    char url[8192], open_url[8192] = "";
    SMBCFILE *file = NULL;
    for (;;) {
        struct request rq;
        int got = read_all(channel, &rq, sizeof rq);
        if (got <= 0 || rq.url_length < 0 || (size_t)rq.url_length >= sizeof url || rq.length < 0 || (size_t)rq.length > block_size) break;
        if (read_all(channel, url, (size_t)rq.url_length) != 1 && rq.url_length > 0) break;
        url[rq.url_length] = 0;
        struct answer an = {0, 0, 0};
        if (failed) {
            an.error = failed;
        } else {
            if (file && (rq.length == 0 || strcmp(url, open_url) != 0)) {
                smbc_getFunctionClose(ctx)(ctx, file);
                file = NULL;
            }
            if (rq.length > 0) {
                if (!file) {
                    file = smbc_getFunctionOpen(ctx)(ctx, url, O_RDONLY, 0);
                    if (file) snprintf(open_url, sizeof open_url, "%s", url);
                    else an.error = errno ? errno : EIO;
                }
                if (file && smbc_getFunctionLseek(ctx)(ctx, file, (off_t)rq.offset, SEEK_SET) < 0) an.error = errno ? errno : EIO;
                while (!an.error && an.count < rq.length) {
                    ssize_t n = smbc_getFunctionRead(ctx)(ctx, file, block + an.count, (size_t)(rq.length - an.count));
                    if (n < 0) an.error = errno ? errno : EIO;
                    else if (n == 0) break;
                    else an.count += n;
                }
                if (an.error && file) {
                    smbc_getFunctionClose(ctx)(ctx, file);
                    file = NULL;
                }
            }
        }
        if (write_all(channel, &an, sizeof an) != 0) break;
    }
    // The parent closed its end (or sent nonsense): log off and end.
    if (ctx) smbc_free_context(ctx, 1);
    _exit(0);
}

int sluice_smbc_second_start(sluice_smbc_second *s, const sluice_smbc_settings *settings,
                             const char *user, const char *domain, const char *password, size_t block_size) {
    memset(s, 0, sizeof *s);
    s->pid = -1;
    s->channel = -1;
    unsigned char *block = mmap(NULL, block_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) return errno;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        int e = errno;
        munmap(block, block_size);
        return e;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(pair[0]);
        child_main(parent, pair[1], block, block_size, settings, user, domain, password);
    }
    int e = errno;
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        munmap(block, block_size);
        return e;
    }
    s->pid = pid;
    s->channel = pair[0];
    s->block = block;
    s->block_size = block_size;
    return 0;
}

int sluice_smbc_second_ask(const sluice_smbc_second *s, const char *url, int64_t offset, int32_t length) {
    size_t url_length = strlen(url);
    if (length < 0 || (size_t)length > s->block_size || url_length >= 8192) return EINVAL;
    struct request rq = {offset, length, (int32_t)url_length};
    // One write of both, so a request is never half sent.
    char message[sizeof rq + 8192];
    memcpy(message, &rq, sizeof rq);
    memcpy(message + sizeof rq, url, url_length);
    return write_all(s->channel, message, sizeof rq + url_length) == 0 ? 0 : EPIPE;
}

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int sluice_smbc_second_answer(const sluice_smbc_second *s, int timeout_ms, int64_t *count) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {s->channel, POLLIN, 0};
        int64_t left = deadline - now_ms();
        if (left < 0) left = 0;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return errno;
        if (r == 0) return ETIMEDOUT;
        break;
    }
    struct answer an;
    if (read_all(s->channel, &an, sizeof an) != 1) return EPIPE;
    if (an.error) return an.error;
    if (an.count < 0 || (uint64_t)an.count > s->block_size) return EPROTO;
    *count = an.count;
    return 0;
}

void sluice_smbc_second_stop(sluice_smbc_second *s) {
    if (s->pid <= 0) return;
    // The child logs off when its input ends; it may be inside a read first.
    shutdown(s->channel, SHUT_WR);
    int status;
    int64_t deadline = now_ms() + 500;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (now_ms() >= deadline) {
            kill(s->pid, SIGKILL);
            while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR) {}
            break;
        }
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    close(s->channel);
    munmap(s->block, s->block_size);
    s->pid = -1;
    s->channel = -1;
    s->block = NULL;
}
