/*
 * Base64 (RFC 4648, standard alphabet, padded) for SASL steps and key pins.
 * Decoding is strict: no whitespace, padding required, no bits left over;
 * so one text has exactly one meaning.
 */
#ifndef M2T_BASE64_H
#define M2T_BASE64_H

#include <stddef.h>

/* Bytes needed to encode len bytes, the terminating NUL included. */
size_t base64_encoded_size(size_t len);
/* Writes the encoding of in[0..len) and a NUL into out (base64_encoded_size bytes). */
void base64_encode(const void *in, size_t len, char *out);
/*
 * Decodes in[0..len) into out (room for len / 4 * 3 bytes is always
 * enough). 0 with *outlen_r, or -1 when in is not canonical base64.
 */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen_r);

#endif
