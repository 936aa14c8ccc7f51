#ifndef SLUICE_CLIBPQ_SHIM_H
#define SLUICE_CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* Character-literal macros are not imported by Swift. */
static inline int sluice_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int sluice_pg_diag_severity(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }
static inline int sluice_pg_diag_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int sluice_pg_diag_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
#endif
