/*
 * The GMime side of engine/mime, shared by its files only (mime.c,
 * mime_walk.c, mime_header.c, mime_attached.c). Nothing outside engine/mime
 * may include this: it is the one module that sees GMime types.
 * Every GMime object here is borrowed from the message being parsed and
 * lives until mime_parse() unrefs it.
 */
#ifndef M2T_MIME_GMIME_H
#define M2T_MIME_GMIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gmime/gmime.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"

/* Longest filename, content type or content-id we keep, in bytes. */
#define NAME_MAX_BYTES 1024
/* Longest header value we keep; the header block is capped anyway. */
#define HEADER_VALUE_MAX (1024 * 1024)
/* Our recursion's own bound, whatever the configuration says (GMime's is 1024). */
#define DEPTH_HARD_MAX 512

/* An attached message found by the walk, with the attachment that holds it. */
struct walk_msgpart {
	GMimeMessagePart *part;
	size_t attachment;
};

/* State of one message's walk over GMime's tree. */
struct walk {
	const struct mime_options *opt;
	const struct mime_limits *lim;
	struct arena *a;
	struct err *err;
	uint32_t nparts;
	GMimePart *text_part;    /* the body parts, borrowed */
	GMimePart *html_part;
	GMimeObject *dsn_status; /* message/delivery-status part of a report */
	GMimeObject *dsn_headers; /* text/rfc822-headers part of a report */
	struct attachment *att;  /* malloc'd while walking, copied to the arena */
	const char **locations;  /* Content-Location per attachment, parallel to att */
	size_t natt, catt;
	struct walk_msgpart *msgs; /* attached messages, malloc'd */
	size_t nmsgs, cmsgs;
	const char *tnef_text;   /* the body of a winmail.dat, when the mail has none */
	size_t tnef_text_len;
	const char *tnef_html;
	size_t tnef_html_len;
	bool truncated;
};

/* Counts parts (attached messages' included) and checks depth. 0 or -1. */
int walk_count(GMimeObject *obj, uint32_t depth, struct walk *wk);

/*
 * Sorts leaves into the body parts and attachments, unpacks winmail.dat,
 * records attached messages and report parts. -1 only when a winmail.dat
 * breaks max_parts.
 */
int walk_parts(GMimeObject *obj, struct walk *wk);

/* Frees what the walk malloc'd (not the arena). */
void walk_release(struct walk *wk);

/*
 * The text of a text part as clean UTF-8 (charset converted with the
 * account's fallback, format=flowed joined), at most max bytes.
 */
const char *walk_part_text(struct walk *wk, GMimePart *part, size_t max, size_t *len_r,
			   bool *cut_r);

/* Decoded bytes of a leaf (transfer encoding removed); g_object_unref the stream. */
GMimeStream *walk_part_decode(GMimePart *part);

/* Top-level headers into msg->headers, in the order of the raw header block. */
void header_copy(struct arena *a, GMimeMessage *m, struct message *msg);

/* Message-ID, subject, addresses, date of m into msg (headers copied first). */
void header_envelope(struct arena *a, GMimeParserOptions *po, GMimeMessage *m,
		     struct message *msg);

/* Subject, sender, date and id of an attached message. */
void header_attached(struct arena *a, GMimeMessage *m, struct attached_message *am);

/* The first message id of a header value ("<a@b> <c@d>" ► "a@b"), NULL. */
const char *header_first_msgid(struct arena *a, GMimeParserOptions *po, const char *value);

/* Texts of the attached messages into msg->attached (depth- and size-capped). */
void attached_collect(struct walk *wk, struct message *msg);

/* DSN fields when the top-level part is a delivery-status report. */
void dsn_collect(struct walk *wk, GMimeMessage *m, struct message *msg);

#endif
