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

/*
 * One attachment. Inline images: an attachment the HTML body shows has
 * is_inline set and a content_id, and msg->html refers to it as
 * "cid:<content_id>" (src, background and href values compared without
 * case). Outlook's bare references (src="image001.png", matched against the
 * file name or Content-Location of an attachment) are rewritten in msg->html
 * to "cid:" form; an attachment without a Content-ID then gets its file name
 * as content_id. So every inline image in msg->html resolves the same way.
 */
struct attachment {
	const char *filename;      /* decoded (RFC 2231/2047); "" when none; an attached
				      message without a name: "<subject>.eml" */
	const char *content_type;  /* "image/png", lower case */
	const char *content_id;    /* without <>, NULL when none (see above) */
	bool is_inline;            /* Content-Disposition: inline, or shown by the HTML */
	bool from_tnef;            /* unpacked from a winmail.dat (application/ms-tnef) */
	const unsigned char *data; /* decoded content */
	size_t size;
	char sha256[65];           /* hex of data */
};

/*
 * An attached message/rfc822 (a forward "as attachment", the returned mail
 * of a bounce): kept whole as a .eml attachment, and its text here as well.
 * Attached messages inside attached messages are listed too, down to
 * MIME_ATTACHED_DEPTH_MAX levels; deeper ones stay inside their .eml only.
 */
struct attached_message {
	const char *subject;       /* decoded, "" when none */
	struct address from;       /* "" / "" when none */
	time_t date;               /* 0 when missing or unparsable */
	const char *message_id;    /* without <>, NULL when none */
	const char *text;          /* its body as text, as message.text; "" when none */
	size_t text_len;
	size_t attachment;         /* index in message.attachments of the .eml holding it
				      (for a nested one: of its outermost ancestor) */
	unsigned depth;            /* 1: attached to this mail; 2: inside such a one... */
};
#define MIME_ATTACHED_DEPTH_MAX 3

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
	const char *text;          /* body as UTF-8 text: text/plain (format=flowed joined),
				      else HTML turned into text, else the text of a
				      winmail.dat; "" when none. CRLF became LF, no NUL */
	size_t text_len;
	const char *html;          /* the HTML body as UTF-8, NULL when none; inline images
				      referenced as "cid:" (see struct attachment) */
	size_t html_len;
	struct attachment *attachments; /* every other leaf, attached messages whole,
					   winmail.dat unpacked, the HTML body when
					   attach_html is set ("message.html") */
	size_t nattachments;
	struct attached_message *attached; /* attached messages, in order, depth first */
	size_t nattached;
	struct header *headers;    /* every top-level header (Content-* included), in order */
	size_t nheaders;
	size_t raw_size;
	char raw_sha256[65];       /* mime_raw_sha256_hex of the raw bytes */
	bool truncated;            /* a text (body, HTML, attached message) was cut at
				      max_text_bytes */

	/*
	 * Delivery status notification (multipart/report;
	 * report-type=delivery-status, RFC 3464). The original Message-ID comes
	 * from the returned message/rfc822 or text/rfc822-headers part, else the
	 * report's Original-Message-ID field; the recipient fields from the first
	 * recipient whose Action is "failed", else the first recipient. Each is
	 * NULL when the report does not say.
	 */
	bool is_dsn;
	const char *dsn_original_message_id; /* without <> */
	const char *dsn_recipient;  /* Final-Recipient address, "rfc822;" removed */
	const char *dsn_status;     /* "5.1.1" */
	const char *dsn_action;     /* "failed", "delayed", ... lower case */

	/*
	 * Detected mail client (mime_client.c), NULL when unknown. Rule packs key
	 * on these ids; the set only grows:
	 *   outlook         Outlook desktop (Windows, Mac)
	 *   outlook-web     Outlook on the web / Microsoft 365
	 *   outlook-mobile  Outlook for iOS and Android
	 *   exchange        sent through Exchange, client not telling (Thread-Index only)
	 *   gmail           Gmail, web and apps
	 *   apple-mail      Apple Mail on macOS
	 *   ios-mail        Mail on iPhone and iPad
	 *   thunderbird     Thunderbird (and other Mozilla mail)
	 *   yahoo           Yahoo Mail, AOL Mail
	 *   lotus-notes     Lotus / IBM / HCL Notes
	 *   groupwise       Novell / Micro Focus GroupWise
	 *   zimbra          Zimbra web client
	 *   roundcube       Roundcube Webmail
	 *   evolution       GNOME Evolution
	 *   k9              K-9 Mail / Thunderbird for Android
	 *   samsung         Samsung Email
	 *   android         other Android mail apps (AOSP Email)
	 */
	const char *client;
};

/* Caps on what one mail may cost (DESIGN.md, decision 3). */
struct mime_limits {
	uint64_t max_size;         /* raw bytes */
	uint32_t max_parts;        /* MIME parts, nested ones and winmail.dat contents included */
	uint32_t max_depth;        /* multipart / message nesting */
	uint64_t max_header_bytes; /* the top-level header block */
	uint64_t max_text_bytes;   /* decoded text and HTML bodies, each; the texts of all
				      attached messages together */
};

/* Defaults: 25 MB, 500 parts, depth 20, 1 MB of headers, 4 MB of text. */
void mime_limits_default(struct mime_limits *lim);

/* What one parse may cost and how it reads what the mail leaves open. */
struct mime_options {
	struct mime_limits limits;
	/*
	 * The "code page" for undeclared 8-bit text and raw 8-bit header bytes
	 * that are not valid UTF-8 ("koi8-r", "windows-1251", "shift_jis"...).
	 * NULL: windows-1252. Borrowed; must be known to mime_charset_known().
	 */
	const char *charset_fallback;
	bool attach_html;          /* also keep the HTML body as attachment "message.html" */
};

/* Default limits, no fallback charset (windows-1252), attach_html off. */
void mime_options_default(struct mime_options *opt);

/* True when `name` is a charset the converter can read (for config checks;
 * works before mime_global_init()). */
bool mime_charset_known(const char *name);

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
 * raw and opt are only read, never kept: they may be freed once this returns.
 */
int mime_parse(const char *raw, size_t len, const struct mime_options *opt,
	       struct arena *arena, struct message **msg_r, struct err *err);

/* First header with this name (case-insensitive), NULL when absent. */
const char *message_header(const struct message *msg, const char *name);

/* Hex sha256 of bytes, into out[65]. */
void mime_sha256_hex(const void *data, size_t len, char out[65]);
/*
 * Hex sha256 of a raw mail in its canonical form (every bare LF as CRLF):
 * the identity hash (with the Message-ID), the same for a mail whether an
 * IMAP server (CRLF), a Maildir file or an MTA pipe (LF) handed it over.
 */
void mime_raw_sha256_hex(const void *raw, size_t len, char out[65]);

#endif
