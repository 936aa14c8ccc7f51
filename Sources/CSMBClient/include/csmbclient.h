#ifndef SLUICE_CSMBCLIENT_H
#define SLUICE_CSMBCLIENT_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
// Debian's libsmbclient-dev keeps the header under samba-4.0/.
#include <samba-4.0/libsmbclient.h>

/// Loads libsmbclient (once). The smbc_* functions this module defines load it themselves; this
/// tells why it could not be loaded: 0 when it is loaded, else -1 with the reason in `error`.
int sluice_smbc_load(char *error, size_t size);

/// The options Sluice sets on every libsmbclient context it makes (a source's own and its second
/// connection's), before the callbacks and `smbc_init_context`.
typedef struct sluice_smbc_settings {
    int timeout_ms;
    /// Non-zero: a guest login (an anonymous retry is then allowed).
    int guest;
    smbc_smb_encrypt_level encryption;
    const char *min_protocol;
    const char *max_protocol;
} sluice_smbc_settings;

void sluice_smbc_configure(SMBCCTX *context, const sluice_smbc_settings *settings);

/// A second connection to a share, for reading a large file two blocks at a time: a child
/// process forked from this one (libsmbclient is loaded already, so nothing is linked or started
/// anew) with a context of its own, reading what it is asked into a block of memory it shares
/// with this process. See `second_connection.c`.
typedef struct sluice_smbc_second {
    int pid;
    /// Our end of the socket pair: requests out, answers in.
    int channel;
    /// Shared with the child: the bytes of its last read.
    unsigned char *block;
    size_t block_size;
} sluice_smbc_second;

/// Starts the child, which logs in on its first request. 0, or an errno (nothing is left open).
/// Call it on the thread that makes every libsmbclient call: the child is told to die with it.
int sluice_smbc_second_start(sluice_smbc_second *second, const sluice_smbc_settings *settings,
                             const char *user, const char *domain, const char *password, size_t block_size);

/// Asks the child for `length` bytes of the file at `url` from `offset` into its block (at most
/// `block_size`); `length` 0 closes the file it has open. One request at a time: wait for its
/// answer before the next. 0, or an errno (the child is gone).
int sluice_smbc_second_ask(const sluice_smbc_second *second, const char *url, int64_t offset, int32_t length);

/// Waits at most `timeout_ms` for the answer to the request: 0 with the bytes read in `count`
/// (fewer than asked only at the file's end), the child's errno from libsmbclient, ETIMEDOUT,
/// or EPIPE when the child is gone.
int sluice_smbc_second_answer(const sluice_smbc_second *second, int timeout_ms, int64_t *count);

/// Ends the child (it logs off; killed if it does not end within half a second), waits for it,
/// and frees what `start` made.
void sluice_smbc_second_stop(sluice_smbc_second *second);

#endif
