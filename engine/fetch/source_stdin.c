/*
 * SECURITY: the bytes on stdin are a mail from anywhere (an MTA hands us
 * what the Internet sent). At most max_message bytes are kept in memory;
 * the rest of a longer mail is only hashed, as it streams past, so its
 * badmail record still carries its identity (sha256) and size.
 *
 * The stdin driver of the source interface (`mail2ticket deliver`): one
 * message, read whole at open, identified by Message-ID + sha256 alone
 * (SOURCE_ID_CONTENT: an MTA that delivers twice gets "already done").
 * There is nothing to dispose: once recorded, the mail is the database's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/fetch/source_int.h"
#include "engine/net/digest.h"
#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

#define STDIN_CHUNK (64 * 1024)

struct stdin_source {
	struct source base;
	struct buf raw;         /* the mail, when it fits */
	uint64_t total;
	bool oversized;
	char sha256[65];        /* of all of it, when oversized */
};

static int stdin_list(struct source *src, struct err *err)
{
	struct stdin_source *s = (struct stdin_source *)src;
	(void)err;
	free(src->msgs);
	src->msgs = xcalloc(1, sizeof(*src->msgs));
	src->msgs[0].id = 1;
	src->msgs[0].size = s->total;
	src->msgs[0].sha256 = s->oversized ? s->sha256 : NULL;
	src->nmsgs = 1;
	return 0;
}

static int stdin_fetch(struct source *src, const uint32_t *ids, size_t n, source_body_cb cb,
		       void *ud, struct err *err)
{
	struct stdin_source *s = (struct stdin_source *)src;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] != 1)
			continue;
		if (s->oversized)
			return cb(ud, 1, NULL, s->total > SIZE_MAX ? SIZE_MAX : (size_t)s->total, err);
		return cb(ud, 1, buf_str(&s->raw), s->raw.len, err);
	}
	return 0;
}

static int stdin_dispose(struct source *src, const uint32_t *ids, size_t n,
			 enum source_dispose d, size_t folder, struct err *err)
{
	(void)src;
	(void)ids;
	(void)n;
	(void)d;
	(void)folder;
	(void)err;
	/* recorded is done: the MTA deletes its copy on our exit code; a rule's
	 * folder means nothing to a pipe */
	return 0;
}

static int stdin_close(struct source *src, struct err *err)
{
	struct stdin_source *s = (struct stdin_source *)src;
	(void)err;
	buf_release(&s->raw);
	free(src->msgs);
	free(s);
	return 0;
}

static const struct source_ops stdin_ops = {
	.list = stdin_list,
	.fetch = stdin_fetch,
	.dispose = stdin_dispose,
	.close = stdin_close,
};

/* read(), retried on EINTR; 0 at the end, -1 on error. */
static ssize_t read_some(int fd, char *p, size_t len)
{
	for (;;) {
		ssize_t n = read(fd, p, len);
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

int source_stdin_open(int fd, uint64_t max_message, struct source **src_r, struct err *err)
{
	struct stdin_source *s = xcalloc(1, sizeof(*s));
	struct digest_sha256 *d = NULL;
	bool cr = false;           /* the hash takes line ends as CRLF, as mime_parse does */
	char *chunk = xmalloc(STDIN_CHUNK);
	s->base.ops = &stdin_ops;
	s->base.mode = SOURCE_READ_WRITE;
	s->base.info.kind = "stdin";
	s->base.info.mailbox = "stdin";
	s->base.info.identity = SOURCE_ID_CONTENT;
	s->base.info.badmail_stays = true;
	size_t keep = max_message > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max_message;
	buf_init(&s->raw, keep);
	*src_r = NULL;
	for (;;) {
		ssize_t n = read_some(fd, chunk, STDIN_CHUNK);
		if (n < 0) {
			err_set(err, ERR_TRANSIENT, "reading the message from stdin: %s",
				strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		s->total += (uint64_t)n;
		if (!s->oversized && buf_add(&s->raw, chunk, (size_t)n) == 0)
			continue;
		if (!s->oversized) {
			/* past the limit: from here on only its hash is kept */
			s->oversized = true;
			d = digest_sha256_new();
			digest_sha256_update_crlf(d, s->raw.data ? s->raw.data : "", s->raw.len, &cr);
			buf_release(&s->raw);
		}
		digest_sha256_update_crlf(d, chunk, (size_t)n, &cr);
	}
	if (d)
		digest_sha256_final_hex(&d, s->sha256);
	free(chunk);
	*src_r = &s->base;
	return 0;
fail:
	if (d) {
		char discard[65];
		digest_sha256_final_hex(&d, discard);
	}
	free(chunk);
	stdin_close(&s->base, NULL);
	return -1;
}
