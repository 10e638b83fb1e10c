#ifndef LIFEBOAT_CZSTD_SHIM_H
#define LIFEBOAT_CZSTD_SHIM_H
/* libzstd, imported only by the Repository module. */
#include <zstd.h>
#include <zstd_errors.h>
#endif
