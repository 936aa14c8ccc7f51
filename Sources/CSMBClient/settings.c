// The options of every libsmbclient context Sluice makes, in one place: the source's own context
// (SMBClient.swift) and its second connection's (second_connection.c) must log in alike.
#include "csmbclient.h"

void sluice_smbc_configure(SMBCCTX *ctx, const sluice_smbc_settings *s) {
    smbc_setDebug(ctx, 0);
    smbc_setTimeout(ctx, s->timeout_ms);
    smbc_setOptionUseKerberos(ctx, 0);
    smbc_setOptionUseCCache(ctx, 0);
    // Never fall back to an anonymous login when the credentials are refused.
    smbc_setOptionNoAutoAnonymousLogin(ctx, s->guest ? 0 : 1);
    smbc_setOptionOneSharePerServer(ctx, 1);
    smbc_setOptionSmbEncryptionLevel(ctx, s->encryption);
    smbc_setOptionProtocols(ctx, s->min_protocol, s->max_protocol);
}
