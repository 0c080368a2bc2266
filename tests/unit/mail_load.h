/*
 * Shared by the engine/mime unit tests: load a sample from tests/mail/
 * (run from the top of the tree) and parse it with given options.
 */
#ifndef M2T_TEST_MAIL_LOAD_H
#define M2T_TEST_MAIL_LOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"

static inline char *mail_load(const char *name, size_t *len_r)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/mail/%s", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "  cannot open %s (run from the top of the tree)\n", path);
		*len_r = 0;
		return NULL;
	}
	struct buf b;
	buf_init(&b, 1 << 24);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len_r);
}

struct parsed {
	struct arena *a;
	struct message *m;
	struct err err;
	int rc;
	char *raw;
};

static inline void parse_opt(struct parsed *p, const char *name, const struct mime_options *opt)
{
	size_t len;
	memset(p, 0, sizeof(*p));
	p->a = arena_new();
	p->raw = mail_load(name, &len);
	p->rc = p->raw ? mime_parse(p->raw, len, opt, p->a, &p->m, &p->err) : -1;
	if (p->rc < 0)
		fprintf(stderr, "  %s: %s\n", name, p->err.msg);
}

/* Parses a mail given as a string. */
static inline void parse_str(struct parsed *p, const char *raw, const struct mime_options *opt)
{
	memset(p, 0, sizeof(*p));
	p->a = arena_new();
	p->raw = strdup(raw);
	p->rc = mime_parse(p->raw, strlen(p->raw), opt, p->a, &p->m, &p->err);
	if (p->rc < 0)
		fprintf(stderr, "  parse: %s\n", p->err.msg);
}

static inline void parsed_free(struct parsed *p)
{
	arena_free(&p->a);
	free(p->raw);
}

static inline bool text_ok(const char *s, size_t len)
{
	return s && strlen(s) == len && mime_utf8_valid(s, len);
}

#endif
