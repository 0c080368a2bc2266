/*
 * Message digests, from OpenSSL (engine/net is the one module that
 * includes it). Used for the identity of raw mail and attachment contents.
 */
#ifndef M2T_DIGEST_H
#define M2T_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Lower-case hex SHA-256 of data into out (64 digits + NUL). Thread-safe. */
void digest_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * SHA-256 of a stream (mail read from a pipe without keeping it all):
 * _new, any number of _update calls, then _final_hex, which also frees.
 */
struct digest_sha256;
struct digest_sha256 *digest_sha256_new(void);
void digest_sha256_update(struct digest_sha256 *d, const void *data, size_t len);
void digest_sha256_final_hex(struct digest_sha256 **d, char out[65]);
/*
 * Feeds data with every bare LF taken as CRLF (the mail's canonical form,
 * RFC 5322 2.1), so a mail hashes the same however its line endings were
 * stored. *last_cr carries "the previous byte was CR" from one chunk to the
 * next: start it false.
 */
void digest_sha256_update_crlf(struct digest_sha256 *d, const void *data, size_t len,
			       bool *last_cr);

/*
 * Lower-case hex MD5 into out (32 digits + NUL). Only for protocols that
 * demand it (POP3 APOP, RFC 1939); never for identity.
 */
void digest_md5_hex(const void *data, size_t len, char out[33]);

#endif
