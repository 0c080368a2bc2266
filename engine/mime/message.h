/*
 * The message model: one parsed mail, as every later stage sees it.
 * Plain data with no GMime types, so rules/ and storage/ can use it.
 * Everything (strings, arrays, attachment bytes) lives in the arena passed
 * to mime_parse() and is freed with it. All text is valid UTF-8.
 */
#ifndef M2T_MESSAGE_H
#define M2T_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine/util/arena.h"
#include "engine/util/err.h"

struct address {
	const char *name;    /* decoded display name, "" when none */
	const char *email;   /* addr-spec as written, "" when none */
};

struct address_list {
	struct address *v;
	size_t n;
};

struct header {
	const char *name;
	const char *value;   /* unfolded, RFC 2047 decoded, UTF-8 */
};

struct attachment {
	const char *filename;      /* decoded (RFC 2231/2047); "" when none; an attached
				      message without a name: "<subject>.eml" */
	const char *content_type;  /* "image/png", lower case */
	const char *content_id;    /* without <>, NULL when none */
	bool is_inline;            /* Content-Disposition: inline, or referenced by cid: */
	const unsigned char *data; /* decoded content */
	size_t size;
	char sha256[65];           /* hex of data */
};

struct message {
	const char *message_id;    /* without <>, NULL when missing */
	const char *in_reply_to;   /* first msg-id, without <>, NULL when none */
	const char *references;    /* raw list, NULL when none */
	const char *subject;       /* decoded, "" when none */
	struct address from;
	struct address reply_to;   /* email "" when none */
	struct address_list to;
	struct address_list cc;
	time_t date;               /* 0 when missing or unparsable */
	const char *text;          /* body as UTF-8 text: text/plain, else HTML turned into
				      text; "" when none. CRLF became LF, no NUL */
	size_t text_len;
	const char *html;          /* the HTML body as UTF-8, NULL when none */
	size_t html_len;
	struct attachment *attachments; /* every other leaf, and attached messages whole */
	size_t nattachments;
	struct header *headers;    /* every top-level header (Content-* included), in order */
	size_t nheaders;
	size_t raw_size;
	char raw_sha256[65];       /* hex of the raw bytes */
	bool truncated;            /* text or html was cut at max_text_bytes */
	const char *client;        /* detected mail client ("outlook", "gmail", "apple-mail",
				      "thunderbird", ...), NULL when unknown */
};

/* Caps on what one mail may cost (DESIGN.md, decision 3). */
struct mime_limits {
	uint64_t max_size;         /* raw bytes */
	uint32_t max_parts;        /* MIME parts, nested ones included */
	uint32_t max_depth;        /* multipart / message nesting */
	uint64_t max_header_bytes; /* the top-level header block */
	uint64_t max_text_bytes;   /* decoded text and HTML bodies, each */
};

/* Defaults: 25 MB, 500 parts, depth 20, 1 MB of headers, 4 MB of text. */
void mime_limits_default(struct mime_limits *lim);

/* Once per process, before threads: initialises GMime and libxml2. After it,
 * mime_parse() may run on any number of threads at once (one arena each). */
void mime_global_init(void);
void mime_global_shutdown(void);

/*
 * Parses raw bytes into *msg_r (allocated in arena). A mail that breaks a
 * limit or cannot be parsed at all fails with ERR_MESSAGE and a reason fit
 * for the badmail record ("mime: 612 parts exceed the limit of 500");
 * ERR_FATAL only when mime_global_init() was not called. Broken-but-readable
 * MIME is repaired, not refused (engine/mime/LENIENCY.md). Text and HTML
 * longer than max_text_bytes are cut, not refused (msg->truncated).
 * raw is only read, never kept: it may be freed once this returns.
 */
int mime_parse(const char *raw, size_t len, const struct mime_limits *lim,
	       struct arena *arena, struct message **msg_r, struct err *err);

/* First header with this name (case-insensitive), NULL when absent. */
const char *message_header(const struct message *msg, const char *name);

/* Hex sha256 of bytes, into out[65]. */
void mime_sha256_hex(const void *data, size_t len, char out[65]);

#endif
