#ifndef SLUICE_CSMBCLIENT_H
#define SLUICE_CSMBCLIENT_H
#include <sys/types.h>
#include <sys/stat.h>
#include <fcntl.h>
// Debian's libsmbclient-dev keeps the header under samba-4.0/.
#include <samba-4.0/libsmbclient.h>

/// Loads libsmbclient (once). The smbc_* functions this module defines load it themselves; this
/// tells why it could not be loaded: 0 when it is loaded, else -1 with the reason in `error`.
int sluice_smbc_load(char *error, size_t size);

#endif
