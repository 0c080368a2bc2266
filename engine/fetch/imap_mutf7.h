/*
 * Mailbox names in IMAP's modified UTF-7 (RFC 3501 5.1.3), both ways, and
 * the UTF-8 check used when a server speaks UTF-8 names (RFC 6855).
 * No I/O; output goes to a capped buf owned by the caller (appended).
 *
 * Limits: a name is at most IMAP_MAILBOX_MAX bytes in modified UTF-7 (its
 * UTF-8 form may be longer: CJK takes 3 bytes where base64 takes 2.67).
 * Errors: encoding a configured name → ERR_FATAL (invalid UTF-8, NUL, too
 * long); decoding a server's name → ERR_SOURCE.
 */
#ifndef M2T_IMAP_MUTF7_H
#define M2T_IMAP_MUTF7_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/util/buf.h"
#include "engine/util/err.h"

#define IMAP_MAILBOX_MAX 1024

/* UTF-8 (strict: no overlong forms, surrogates, NUL) → modified UTF-7. */
int imap_mutf7_encode(const char *utf8, size_t len, struct buf *out, struct err *err);

/*
 * Modified UTF-7 → UTF-8. Strict: only printable ASCII; "&-" for "&";
 * a shifted run is canonical (no printable ASCII inside, no padding or
 * stray bits, whole UTF-16 units, paired surrogates, not directly after
 * another run) and ends with "-".
 */
int imap_mutf7_decode(const char *s, size_t len, struct buf *out, struct err *err);

/* True when s is well-formed UTF-8 without NUL (what UTF8=ACCEPT names must be). */
bool imap_utf8_valid(const char *s, size_t len);

#endif
