/*
 * Message digests, from OpenSSL (engine/net is the one module that
 * includes it). Used for the identity of raw mail and attachment contents.
 */
#ifndef M2T_DIGEST_H
#define M2T_DIGEST_H

#include <stddef.h>

/* Lower-case hex SHA-256 of data into out (64 digits + NUL). Thread-safe. */
void digest_sha256_hex(const void *data, size_t len, char out[65]);

#endif
