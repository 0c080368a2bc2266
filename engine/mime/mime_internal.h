/*
 * Helpers shared inside engine/mime only; not part of the module's API.
 */
#ifndef M2T_MIME_INTERNAL_H
#define M2T_MIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"

/*
 * Refuses, with ERR_MESSAGE, a mail whose top-level header block exceeds
 * lim->max_header_bytes or whose parts could number more than about twice
 * lim->max_parts (an upper-bound estimate from boundary lines), before
 * GMime spends memory on it. Reads raw only. 0 ok, -1 refused.
 */
int mime_prescan(const char *raw, size_t len, const struct mime_limits *lim, struct err *err);

/* Offset of lit in p[0..n), ASCII case-insensitive; n when absent. */
size_t mime_find_ci(const char *p, size_t n, const char *lit);

/*
 * The value of an HTML attribute whose '=' is at eq (blanks skipped, quotes
 * removed; unquoted values end at a blank or '>'), at most max bytes, never
 * past end. Sets *v_r to its start and returns its length.
 */
size_t mime_html_attr_value(const char *eq, const char *end, size_t max, const char **v_r);

/*
 * Copies s[0..len) into the arena as valid UTF-8: each byte of an invalid
 * sequence becomes U+FFFD, NUL bytes are dropped, CRLF and lone CR become LF
 * when `newlines` is set. The result is cut at `max` bytes on a character
 * boundary (*truncated_r says so; may be NULL). Never NULL.
 */
char *mime_utf8_clean(struct arena *a, const char *s, size_t len, bool newlines,
		      size_t max, size_t *len_r, bool *truncated_r);

/*
 * Converts text in `charset` (NULL or "" when undeclared) to clean UTF-8 in
 * the arena, as mime_utf8_clean() does. Declared labels are read as their
 * common superset (gb2312 as GB18030, shift_jis as Windows-31J...).
 * Undeclared or unknown charsets: UTF-8 when the bytes are valid UTF-8,
 * else `fallback` (NULL: windows-1252). ISO-8859-1 and US-ASCII with 8-bit
 * bytes are read as windows-1252 and undeclared respectively (LENIENCY.md).
 * Never NULL.
 */
char *mime_text_to_utf8(struct arena *a, const char *s, size_t len, const char *charset,
			const char *fallback, size_t max, size_t *len_r, bool *truncated_r);

/* The charset an HTML document names in a <meta> tag, into out; NULL when none. */
const char *mime_html_charset_sniff(const char *s, size_t len, char *out, size_t outlen);

/*
 * RFC 3676 format=flowed ► plain lines: soft breaks (a line ending in a
 * space) joined, space-stuffing removed, DelSp=yes spaces dropped, quote
 * depth kept as "> " prefixes, the "-- " signature line never joined.
 * Output at most max bytes (*truncated_r set when cut; may be NULL).
 */
char *mime_flowed_decode(struct arena *a, const char *s, size_t len, bool delsp, size_t max,
			 size_t *len_r, bool *truncated_r);

/* The detected client id (message.h) from headers, Message-ID and HTML; NULL. */
const char *mime_client_detect(const struct message *msg);

/*
 * Reads a message/delivery-status body (RFC 3464 field blocks) into
 * msg->dsn_recipient, dsn_status, dsn_action and, when the report carries
 * one, dsn_original_message_id. Reads at most the first 64 KB.
 */
void mime_dsn_fields(struct arena *a, const char *s, size_t len, struct message *msg);

/* The first Message-ID field of a header block (text/rfc822-headers), NULL. */
const char *mime_dsn_header_msgid(struct arena *a, const char *s, size_t len);

/* One file unpacked from a winmail.dat; strings are UTF-8 in the arena. */
struct tnef_file {
	const char *filename;
	const char *content_type;  /* lower case; application/octet-stream when unsaid */
	const char *content_id;    /* NULL when none */
	bool is_inline;
	const unsigned char *data; /* in the arena */
	size_t size;
};

struct tnef_result {
	struct tnef_file *files;   /* in the arena */
	size_t nfiles;
	const char *text;          /* the message body as UTF-8 text, NULL when none */
	size_t text_len;
	const char *html;          /* PR_BODY_HTML as UTF-8, NULL when none */
	size_t html_len;
};

/*
 * Unpacks a TNEF stream (winmail.dat) with libytnef. 0 ok; -1 when it is
 * not TNEF or nothing readable is in it (keep the part as it is); -2 when
 * it holds more than max_files files (the mail breaks max_parts), or more
 * than 1,000. Texts are
 * cut at max_text. See mime_tnef.c for what is checked before libytnef
 * sees the bytes.
 */
int mime_tnef_unpack(struct arena *a, const unsigned char *data, size_t len, size_t max_files,
		     size_t max_text, struct tnef_result *res);

/*
 * Links the HTML body's image references to attachments (message.h, struct
 * attachment): marks them inline, gives bare-name targets a content_id and
 * rewrites those references in msg->html to "cid:". locations[i] is the
 * Content-Location of attachment i (NULL when none); may be NULL. The
 * rewritten HTML is at most max bytes, else it is left as it was.
 */
void mime_inline_link(struct arena *a, struct message *msg, const char *const *locations,
		      size_t max);

/* Keep the gconv modules of common charsets loaded (mime_global_init). */
void mime_charsets_pin(void);
void mime_charsets_unpin(void);

/* True when s[0..len) is valid UTF-8 (NUL bytes allowed). */
bool mime_utf8_valid(const char *s, size_t len);

#endif
