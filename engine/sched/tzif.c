/*
 * TZif files (RFC 8536 / RFC 9636, versions 1 to 4) into a struct tz.
 *
 * SECURITY: the file is untrusted binary input (a zone directory an admin
 * points $TZDIR at, or a damaged package). The whole file is in memory and
 * capped at TZ_FILE_MAX; every count is checked against a limit before any
 * size is computed from it, so no multiplication can overflow; every read is
 * bounds-checked; transition times must ascend, type indexes and
 * abbreviation indexes must be in range, offsets within -25..26 hours, and
 * abbreviations NUL-terminated printable ASCII. Anything else refuses the
 * whole file: a schedule in a half-read zone would fire at wrong times.
 */
#include "engine/sched/tz_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/xalloc.h"

#define TZIF_HEADER 44

struct counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

struct rd {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

static bool rd_has(const struct rd *r, size_t n)
{
	return n <= r->len - r->pos;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int header_read(struct rd *r, int *version_r, struct counts *c, struct err *err)
{
	if (!rd_has(r, TZIF_HEADER))
		return err_set(err, ERR_FATAL, "truncated header");
	const uint8_t *p = r->p + r->pos;
	if (memcmp(p, "TZif", 4) != 0)
		return err_set(err, ERR_FATAL, "not a TZif file");
	/* 0, '2', '3', '4'; later versions promise to stay readable as version 2 */
	if (p[4] != 0 && !(p[4] >= '2' && p[4] <= '9'))
		return err_set(err, ERR_FATAL, "unknown TZif version 0x%02x", p[4]);
	*version_r = p[4] == 0 ? 1 : p[4] - '0';
	c->isut = be32(p + 20);
	c->isstd = be32(p + 24);
	c->leap = be32(p + 28);
	c->time = be32(p + 32);
	c->type = be32(p + 36);
	c->chars = be32(p + 40);
	r->pos += TZIF_HEADER;
	if (c->leap != 0)
		return err_set(err, ERR_FATAL, "zones with leap seconds are not supported "
			       "(use a zone outside \"right/\")");
	if (c->type == 0 || c->type > 256)
		return err_set(err, ERR_FATAL, "bad number of local time types (%u)",
			       (unsigned)c->type);
	if (c->time > TZ_MAX_TRANSITIONS)
		return err_set(err, ERR_FATAL, "more than %d transitions", TZ_MAX_TRANSITIONS);
	if (c->chars == 0 || c->chars > TZ_MAX_ABBR_CHARS)
		return err_set(err, ERR_FATAL, "bad size of the abbreviations (%u bytes)",
			       (unsigned)c->chars);
	if ((c->isut != 0 && c->isut != c->type) || (c->isstd != 0 && c->isstd != c->type))
		return err_set(err, ERR_FATAL, "UT/standard indicator counts do not match the types");
	return 0;
}

/* Bytes of a data block; the counts are capped, so this cannot overflow. */
static size_t block_size(const struct counts *c, size_t time_size)
{
	return (size_t)c->time * (time_size + 1) + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (time_size + 4) + c->isstd + c->isut;
}

static bool abbr_ok(const char *s, size_t room)
{
	size_t n = 0;
	while (n < room && s[n]) {
		unsigned char ch = (unsigned char)s[n];
		if (ch <= 0x20 || ch >= 0x7f)
			return false;
		n++;
	}
	return n < room;   /* found the NUL within the block */
}

static int block_read(struct rd *r, const struct counts *c, size_t time_size, struct tz *tz,
		      struct err *err)
{
	if (!rd_has(r, block_size(c, time_size)))
		return err_set(err, ERR_FATAL, "truncated data block");
	const uint8_t *p = r->p + r->pos;
	tz->ntimes = c->time;
	tz->ntypes = c->type;
	tz->times = xcalloc(c->time ? c->time : 1, sizeof(*tz->times));
	tz->idx = xcalloc(c->time ? c->time : 1, 1);
	tz->types = xcalloc(c->type, sizeof(*tz->types));
	tz->abbrs = xmalloc(c->chars);
	for (size_t i = 0; i < c->time; i++, p += time_size) {
		tz->times[i] = time_size == 8 ? be64(p) : (int32_t)be32(p);
		if (i > 0 && tz->times[i] <= tz->times[i - 1])
			return err_set(err, ERR_FATAL, "transition times do not ascend (at %zu)", i);
	}
	for (size_t i = 0; i < c->time; i++, p++) {
		if (*p >= c->type)
			return err_set(err, ERR_FATAL, "transition %zu names type %u of %u", i, *p,
				       (unsigned)c->type);
		tz->idx[i] = *p;
	}
	const uint8_t *types = p;
	p += (size_t)c->type * 6;
	memcpy(tz->abbrs, p, c->chars);
	p += c->chars;
	for (size_t i = 0; i < c->type; i++) {
		const uint8_t *t = types + i * 6;
		int32_t off = (int32_t)be32(t);
		if (off < -89999 || off > 93599)
			return err_set(err, ERR_FATAL, "type %zu: UTC offset %d out of range", i,
				       (int)off);
		if (t[4] > 1)
			return err_set(err, ERR_FATAL, "type %zu: bad DST flag", i);
		if (t[5] >= c->chars || !abbr_ok(tz->abbrs + t[5], c->chars - t[5]))
			return err_set(err, ERR_FATAL, "type %zu: bad abbreviation", i);
		tz->types[i] = (struct tz_type){off, t[4] == 1, tz->abbrs + t[5]};
	}
	p += (size_t)c->leap * (time_size + 4);
	for (size_t i = 0; i < (size_t)c->isstd + c->isut; i++, p++)
		if (*p > 1)
			return err_set(err, ERR_FATAL, "bad standard/UT indicator");
	r->pos = (size_t)(p - r->p);
	return 0;
}

static int footer_read(struct rd *r, struct tz *tz, struct err *err)
{
	if (!rd_has(r, 1) || r->p[r->pos] != '\n')
		return err_set(err, ERR_FATAL, "missing footer");
	const char *s = (const char *)r->p + r->pos + 1;
	size_t room = r->len - r->pos - 1;
	const char *nl = memchr(s, '\n', room < TZ_RULE_MAX + 1 ? room : TZ_RULE_MAX + 1);
	if (!nl)
		return err_set(err, ERR_FATAL, "footer unterminated or longer than %d bytes",
			       TZ_RULE_MAX);
	size_t len = (size_t)(nl - s);
	r->pos += len + 2;
	if (r->pos != r->len)
		return err_set(err, ERR_FATAL, "%zu unexpected bytes after the footer",
			       r->len - r->pos);
	if (len == 0)
		return 0;   /* no rule: the last transition's type holds for ever */
	if (tz_rule_parse(s, len, &tz->rule, err) < 0)
		return err_prefix(err, "footer");
	tz->has_rule = true;
	return 0;
}

int tz_parse_tzif(const void *data, size_t len, const char *name, struct tz **tz_r,
		  struct err *err)
{
	struct rd r = {data, len, 0};
	struct counts c;
	int version;
	int rc = -1;
	struct tz *tz = xcalloc(1, sizeof(*tz));
	tz->name = xstrdup(name ? name : "");
	*tz_r = NULL;
	if (len > TZ_FILE_MAX) {
		err_set(err, ERR_FATAL, "larger than %d bytes", TZ_FILE_MAX);
		goto out;
	}
	if (header_read(&r, &version, &c, err) < 0)
		goto out;
	if (version >= 2) {
		/* the version 1 block (32-bit times) is only for old readers: skip it */
		if (!rd_has(&r, block_size(&c, 4))) {
			err_set(err, ERR_FATAL, "truncated data block");
			goto out;
		}
		r.pos += block_size(&c, 4);
		if (header_read(&r, &version, &c, err) < 0 ||
		    block_read(&r, &c, 8, tz, err) < 0 || footer_read(&r, tz, err) < 0)
			goto out;
	} else {
		if (block_read(&r, &c, 4, tz, err) < 0)
			goto out;
		if (r.pos != len) {
			err_set(err, ERR_FATAL, "%zu unexpected bytes after the data", len - r.pos);
			goto out;
		}
	}
	*tz_r = tz;
	tz = NULL;
	rc = 0;
out:
	tz_free(&tz);
	return rc;
}
