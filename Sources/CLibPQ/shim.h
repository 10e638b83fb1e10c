#ifndef LIFEBOAT_CLIBPQ_SHIM_H
#define LIFEBOAT_CLIBPQ_SHIM_H
/* libpq, imported only by the Postgres module. */
#include <libpq-fe.h>
#include <postgres_ext.h>

/* PG_DIAG_SQLSTATE is a char literal macro, which Swift cannot import. */
static inline int lb_pq_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
#endif
