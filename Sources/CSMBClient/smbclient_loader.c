// libsmbclient, loaded when the first SMB context is made instead of at program start.
//
// Why: libsmbclient brings about a hundred Samba libraries; linking it made every `sluice`
// process spend ~25 ms of CPU in the dynamic linker before main, SMB or not. The functions below
// have libsmbclient's own names and prototypes (the compiler checks them against its header), so
// the Swift wrapper (Connectors/SMB/SMBClient.swift) calls them as before; each forwards to the
// library's function, found with dlsym.
#include "csmbclient.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLUICE_SMBC_FUNCTIONS(X) \
    X(smbc_new_context) X(smbc_free_context) X(smbc_init_context) X(smbc_setDebug) X(smbc_setLogCallback) \
    X(smbc_setTimeout) X(smbc_getOptionUserData) X(smbc_setOptionUserData) X(smbc_setOptionSmbEncryptionLevel) \
    X(smbc_setOptionOneSharePerServer) X(smbc_setOptionUseKerberos) X(smbc_setOptionNoAutoAnonymousLogin) \
    X(smbc_setOptionUseCCache) X(smbc_setOptionProtocols) X(smbc_setFunctionAuthDataWithContext) \
    X(smbc_getFunctionOpen) X(smbc_getFunctionRead) X(smbc_getFunctionUnlink) X(smbc_getFunctionRename) \
    X(smbc_getFunctionLseek) X(smbc_getFunctionStat) X(smbc_getFunctionClose) X(smbc_getFunctionOpendir) \
    X(smbc_getFunctionClosedir) X(smbc_getFunctionReaddirPlus2) X(smbc_getFunctionMkdir)

static struct {
#define SLUICE_FIELD(name) __typeof__(&name) name;
    SLUICE_SMBC_FUNCTIONS(SLUICE_FIELD)
#undef SLUICE_FIELD
} library;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];

static void load(void) {
    // SLUICE_LIBSMBCLIENT names another build of the library (and lets a test name none).
    const char *path = getenv("SLUICE_LIBSMBCLIENT");
    if (!path || !*path) path = "libsmbclient.so.0";
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(failure, sizeof failure, "cannot load libsmbclient (apt-get install libsmbclient): %s", dlerror());
        return;
    }
#define SLUICE_RESOLVE(name) \
    if (!failure[0] && !(library.name = (__typeof__(&name))dlsym(handle, #name))) \
        snprintf(failure, sizeof failure, "libsmbclient has no %s: %s", #name, dlerror());
    SLUICE_SMBC_FUNCTIONS(SLUICE_RESOLVE)
#undef SLUICE_RESOLVE
}

int sluice_smbc_load(char *error, size_t size) {
    pthread_once(&once, load);
    if (!failure[0]) return 0;
    if (error && size) snprintf(error, size, "%s", failure);
    return -1;
}

// Only smbc_new_context can run first (every other call takes the context it made), so it alone
// reports a library that could not be loaded: NULL with errno ELIBACC.
SMBCCTX *smbc_new_context(void) {
    if (sluice_smbc_load(NULL, 0) != 0) { errno = ELIBACC; return NULL; }
    return library.smbc_new_context();
}

int smbc_free_context(SMBCCTX *context, int shutdown_ctx) { return library.smbc_free_context(context, shutdown_ctx); }
SMBCCTX *smbc_init_context(SMBCCTX *context) { return library.smbc_init_context(context); }
void smbc_setDebug(SMBCCTX *c, int debug) { library.smbc_setDebug(c, debug); }
void smbc_setLogCallback(SMBCCTX *c, void *private_ptr, smbc_debug_callback_fn fn) { library.smbc_setLogCallback(c, private_ptr, fn); }
void smbc_setTimeout(SMBCCTX *c, int timeout) { library.smbc_setTimeout(c, timeout); }
void *smbc_getOptionUserData(SMBCCTX *c) { return library.smbc_getOptionUserData(c); }
void smbc_setOptionUserData(SMBCCTX *c, void *user_data) { library.smbc_setOptionUserData(c, user_data); }
void smbc_setOptionSmbEncryptionLevel(SMBCCTX *c, smbc_smb_encrypt_level level) { library.smbc_setOptionSmbEncryptionLevel(c, level); }
void smbc_setOptionOneSharePerServer(SMBCCTX *c, smbc_bool b) { library.smbc_setOptionOneSharePerServer(c, b); }
void smbc_setOptionUseKerberos(SMBCCTX *c, smbc_bool b) { library.smbc_setOptionUseKerberos(c, b); }
void smbc_setOptionNoAutoAnonymousLogin(SMBCCTX *c, smbc_bool b) { library.smbc_setOptionNoAutoAnonymousLogin(c, b); }
void smbc_setOptionUseCCache(SMBCCTX *c, smbc_bool b) { library.smbc_setOptionUseCCache(c, b); }
smbc_bool smbc_setOptionProtocols(SMBCCTX *c, const char *min_proto, const char *max_proto) {
    return library.smbc_setOptionProtocols(c, min_proto, max_proto);
}
void smbc_setFunctionAuthDataWithContext(SMBCCTX *c, smbc_get_auth_data_with_context_fn fn) { library.smbc_setFunctionAuthDataWithContext(c, fn); }
smbc_open_fn smbc_getFunctionOpen(SMBCCTX *c) { return library.smbc_getFunctionOpen(c); }
smbc_read_fn smbc_getFunctionRead(SMBCCTX *c) { return library.smbc_getFunctionRead(c); }
smbc_unlink_fn smbc_getFunctionUnlink(SMBCCTX *c) { return library.smbc_getFunctionUnlink(c); }
smbc_rename_fn smbc_getFunctionRename(SMBCCTX *c) { return library.smbc_getFunctionRename(c); }
smbc_lseek_fn smbc_getFunctionLseek(SMBCCTX *c) { return library.smbc_getFunctionLseek(c); }
smbc_stat_fn smbc_getFunctionStat(SMBCCTX *c) { return library.smbc_getFunctionStat(c); }
smbc_close_fn smbc_getFunctionClose(SMBCCTX *c) { return library.smbc_getFunctionClose(c); }
smbc_opendir_fn smbc_getFunctionOpendir(SMBCCTX *c) { return library.smbc_getFunctionOpendir(c); }
smbc_closedir_fn smbc_getFunctionClosedir(SMBCCTX *c) { return library.smbc_getFunctionClosedir(c); }
smbc_readdirplus2_fn smbc_getFunctionReaddirPlus2(SMBCCTX *c) { return library.smbc_getFunctionReaddirPlus2(c); }
smbc_mkdir_fn smbc_getFunctionMkdir(SMBCCTX *c) { return library.smbc_getFunctionMkdir(c); }
