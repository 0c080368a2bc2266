/*
 * Base64 (RFC 4648) through OpenSSL, for SASL exchanges (POP3 AUTH).
 * engine/net is the one module that includes OpenSSL (DESIGN.md).
 */
#ifndef M2T_ENCODE_H
#define M2T_ENCODE_H

#include <stddef.h>

/* Bytes encode_base64() writes for len input bytes, the NUL included. */
size_t encode_base64_size(size_t len);

/*
 * Writes the base64 of in[0..len) and a NUL into out, which has room for
 * encode_base64_size(len) bytes. Inputs up to 1 MB; -1 (nothing written
 * but a NUL) for longer ones.
 */
int encode_base64(const void *in, size_t len, char *out);

#endif
