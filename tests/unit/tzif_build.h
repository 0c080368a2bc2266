/*
 * Builds TZif files in memory for tests: version 1 (32-bit times only) or
 * 2+ (a minimal version 1 block, then the 64-bit block and the footer), so
 * that tests can make zones with any transitions, and break them on purpose.
 */
#ifndef M2T_TEST_TZIF_BUILD_H
#define M2T_TEST_TZIF_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tzif_type {
	int32_t offset;
	uint8_t is_dst;
	uint8_t abbr;   /* index into chars */
};

struct tzif_spec {
	char version;                 /* 0, '2', '3', '4' */
	size_t ntimes;
	const int64_t *times;
	const uint8_t *idx;
	size_t ntypes;
	const struct tzif_type *types;
	const char *chars;            /* NUL-separated abbreviations */
	size_t nchars;
	const char *footer;           /* version 2+: the rule, "" for none */
	uint32_t leap;                /* leap records to declare (and write as zero) */
};

static inline size_t tzif_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static inline size_t tzif_header(uint8_t *p, char version, uint32_t leap, uint32_t ntimes,
			  uint32_t ntypes, uint32_t nchars)
{
	memset(p, 0, 44);
	memcpy(p, "TZif", 4);
	p[4] = (uint8_t)version;
	tzif_put32(p + 20, 0);
	tzif_put32(p + 24, 0);
	tzif_put32(p + 28, leap);
	tzif_put32(p + 32, ntimes);
	tzif_put32(p + 36, ntypes);
	tzif_put32(p + 40, nchars);
	return 44;
}

static inline size_t tzif_block(uint8_t *p, const struct tzif_spec *s, size_t tsize)
{
	size_t o = 0;
	for (size_t i = 0; i < s->ntimes; i++) {
		if (tsize == 8) {
			o += tzif_put32(p + o, (uint32_t)((uint64_t)s->times[i] >> 32));
			o += tzif_put32(p + o, (uint32_t)s->times[i]);
		} else {
			o += tzif_put32(p + o, (uint32_t)s->times[i]);
		}
	}
	for (size_t i = 0; i < s->ntimes; i++)
		p[o++] = s->idx[i];
	for (size_t i = 0; i < s->ntypes; i++) {
		o += tzif_put32(p + o, (uint32_t)s->types[i].offset);
		p[o++] = s->types[i].is_dst;
		p[o++] = s->types[i].abbr;
	}
	memcpy(p + o, s->chars, s->nchars);
	o += s->nchars;
	memset(p + o, 0, s->leap * (tsize + 4));
	o += s->leap * (tsize + 4);
	return o;
}

/* Writes the file into out (room for 64 KB is plenty); returns its length. */
static inline size_t tzif_build(uint8_t *out, const struct tzif_spec *s)
{
	size_t o = 0;
	if (s->version == 0) {
		o += tzif_header(out, 0, s->leap, (uint32_t)s->ntimes, (uint32_t)s->ntypes,
				 (uint32_t)s->nchars);
		return o + tzif_block(out + o, s, 4);
	}
	/* a slim version 1 block, as zic -b slim writes: one type, no times */
	static const struct tzif_type utc = {0, 0, 0};
	struct tzif_spec v1 = {0, 0, NULL, NULL, 1, &utc, "UTC", 4, NULL, s->leap};
	o += tzif_header(out, s->version, s->leap, 0, 1, 4);
	o += tzif_block(out + o, &v1, 4);
	o += tzif_header(out + o, s->version, s->leap, (uint32_t)s->ntimes, (uint32_t)s->ntypes,
			 (uint32_t)s->nchars);
	o += tzif_block(out + o, s, 8);
	out[o++] = '\n';
	memcpy(out + o, s->footer, strlen(s->footer));
	o += strlen(s->footer);
	out[o++] = '\n';
	return o;
}

#endif
