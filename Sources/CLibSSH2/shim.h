#ifndef SLUICE_CLIBSSH2_SHIM_H
#define SLUICE_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>

/* Macros Swift does not import (function-like, or shifted constants). */
static inline LIBSSH2_SESSION *sluice_ssh_session_init(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }
static inline int sluice_knownhost_plain_raw(void) { return LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW; }
static inline int sluice_knownhost_key_bits(int hostkey_type) {
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}
#endif
