#ifndef LIFEBOAT_CLIBCRYPTO_SHIM_H
#define LIFEBOAT_CLIBCRYPTO_SHIM_H
/* OpenSSL 3 libcrypto, imported only by the Repository module. */
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#endif
