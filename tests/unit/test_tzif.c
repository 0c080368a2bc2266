/*
 * engine/sched TZif parser: every prefix of a real zone file is refused and
 * only the whole file loads (the byte-at-a-time habit for a parser that
 * takes whole files), single-byte changes never crash, files built with
 * every kind of damage are refused with their reason, and the limits hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sched/tz.h"
#include "engine/util/xalloc.h"
#include "tests/unit/test.h"
#include "tests/unit/tzif_build.h"

#define ZONEINFO "/usr/share/zoneinfo"

static const char *iso(const struct tz *tz, time_t t)
{
	static char out[TZ_ISO_MAX];
	if (tz_format_iso(tz, t, out, sizeof(out)) < 0)
		return "FORMAT ERROR";
	return out;
}

static const char *span_str(const struct tz *tz, time_t t)
{
	static char out[160];
	struct tz_span s;
	tz_span(tz, t, &s);
	snprintf(out, sizeof(out), "%lld %lld %d %d %s%s", (long long)s.start, (long long)s.end,
		 (int)s.offset, (int)s.prev_offset, s.abbr, s.is_dst ? " dst" : "");
	return out;
}

static uint8_t *file_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = xmalloc(TZ_FILE_MAX + 1);
	*len = f ? fread(data, 1, TZ_FILE_MAX + 1, f) : 0;
	if (f)
		fclose(f);
	return data;
}

/* Dovecot's habit for a parser of bytes: every prefix of a real file is
 * refused cleanly, and only the whole file loads. */
TEST(tzif_every_prefix_is_refused)
{
	size_t len;
	uint8_t *data = file_slurp(ZONEINFO "/Europe/Berlin", &len);
	CHECK(len > 1000);
	for (size_t n = 0; n <= len; n++) {
		/* a copy of exactly n bytes, so ASan sees a read past the piece */
		uint8_t *piece = xmalloc(n ? n : 1);
		memcpy(piece, data, n);
		struct tz *tz = NULL;
		struct err err = {0};
		int rc = tz_parse_tzif(piece, n, "Europe/Berlin", &tz, &err);
		if (n < len) {
			CHECK_INT(rc, -1);
			CHECK(tz == NULL);
		} else {
			CHECK_INT(rc, 0);
			if (tz)
				CHECK_INT(tz_offset(tz, 1774746000), 7200);
		}
		tz_free(&tz);
		free(piece);
	}
	free(data);
}

/* Every single-byte change of a real file loads or is refused; a loaded one
 * answers lookups over the years without trouble. */
TEST(tzif_mutations_never_crash)
{
	size_t len;
	uint8_t *data = file_slurp(ZONEINFO "/America/New_York", &len);
	static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '\n', '2'};
	int loaded = 0, refused = 0;
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(vals); k++) {
			uint8_t save = data[i];
			if (save == vals[k])
				continue;
			data[i] = vals[k];
			struct tz *tz = NULL;
			struct err err;
			if (tz_parse_tzif(data, len, "x", &tz, &err) == 0) {
				loaded++;
				for (time_t t = -4000000000LL; t < 8000000000LL; t += 400000000)
					(void)tz_offset(tz, t);
			} else {
				refused++;
			}
			tz_free(&tz);
			data[i] = save;
		}
	}
	CHECK(loaded > 0);
	CHECK(refused > 0);
	free(data);
}

static const int64_t g_times[] = {1774746000, 1792890000};
static const uint8_t g_idx[] = {1, 0};
static const struct tzif_type g_types[] = {{3600, 0, 0}, {7200, 1, 4}};
static const char g_chars[] = "CET\0CEST";

static struct tzif_spec spec_good(void)
{
	return (struct tzif_spec){'2', 2, g_times, g_idx, 2, g_types, g_chars, 9,
				  "CET-1CEST,M3.5.0,M10.5.0/3", 0};
}

static const char *build_and_parse(const struct tzif_spec *s, uint8_t *out, size_t *len)
{
	static char msg[600];
	struct tz *tz = NULL;
	struct err err = {0};
	*len = tzif_build(out, s);
	if (tz_parse_tzif(out, *len, "test", &tz, &err) < 0) {
		snprintf(msg, sizeof(msg), "%s", err.msg);
		return msg;
	}
	char a[TZ_ISO_MAX];
	snprintf(a, sizeof(a), "%s", iso(tz, 1774745999));
	snprintf(msg, sizeof(msg), "OK %s %s", a, iso(tz, 4109878800));
	tz_free(&tz);
	return msg;
}

TEST(tzif_built_files)
{
	static uint8_t buf[TZ_FILE_MAX + 64];
	size_t len;
	struct tzif_spec s = spec_good();
	CHECK_STR(build_and_parse(&s, buf, &len),
		  "OK 2026-03-29T01:59:59+01:00 2100-03-28T03:00:00+02:00");
	s.version = '4';
	CHECK_STR(build_and_parse(&s, buf, &len),
		  "OK 2026-03-29T01:59:59+01:00 2100-03-28T03:00:00+02:00");
	/* no rule: the last type holds for ever */
	s = spec_good();
	s.footer = "";
	CHECK_STR(build_and_parse(&s, buf, &len),
		  "OK 2026-03-29T01:59:59+01:00 2100-03-28T02:00:00+01:00");
	/* version 1: 32-bit times, no footer */
	s = spec_good();
	s.version = 0;
	CHECK_STR(build_and_parse(&s, buf, &len),
		  "OK 2026-03-29T01:59:59+01:00 2100-03-28T02:00:00+01:00");
	/* broken on purpose */
	s = spec_good();
	s.leap = 1;
	CHECK_STR(build_and_parse(&s, buf, &len), "zones with leap seconds are not supported "
		  "(use a zone outside \"right/\")");
	s = spec_good();
	static const int64_t down[] = {1792890000, 1774746000};
	s.times = down;
	CHECK_STR(build_and_parse(&s, buf, &len), "transition times do not ascend (at 1)");
	s = spec_good();
	static const uint8_t idx_bad[] = {1, 2};
	s.idx = idx_bad;
	CHECK_STR(build_and_parse(&s, buf, &len), "transition 1 names type 2 of 2");
	s = spec_good();
	static const struct tzif_type off_bad[] = {{3600, 0, 0}, {93600, 1, 4}};
	s.types = off_bad;
	CHECK_STR(build_and_parse(&s, buf, &len), "type 1: UTC offset 93600 out of range");
	static const struct tzif_type dst_bad[] = {{3600, 2, 0}, {7200, 1, 4}};
	s.types = dst_bad;
	CHECK_STR(build_and_parse(&s, buf, &len), "type 0: bad DST flag");
	static const struct tzif_type abbr_bad[] = {{3600, 0, 0}, {7200, 1, 9}};
	s.types = abbr_bad;
	CHECK_STR(build_and_parse(&s, buf, &len), "type 1: bad abbreviation");
	s = spec_good();
	s.chars = "CET\0CE\tT";
	CHECK_STR(build_and_parse(&s, buf, &len), "type 1: bad abbreviation");
	s.chars = "CET\0CESTX";   /* the last one is not terminated */
	CHECK_STR(build_and_parse(&s, buf, &len), "type 1: bad abbreviation");
	s = spec_good();
	s.footer = "CET-1CEST,M3.5.0";
	CHECK_STR(build_and_parse(&s, buf, &len), "footer: expected ',' and the end date at 17");
	s.footer = "CET-1CEST,M3.5.0,M10.5.0/3 and more text that makes the footer longer "
		   "than the limit of one hundred and twenty-eight bytes for a rule xxxxxxxxxx";
	CHECK_STR(build_and_parse(&s, buf, &len), "footer unterminated or longer than 128 bytes");
	/* after a good build: bytes after the footer, a footer without its newline */
	s = spec_good();
	len = tzif_build(buf, &s);
	struct tz *tz = NULL;
	struct err err;
	buf[len] = 'x';
	CHECK_INT(tz_parse_tzif(buf, len + 1, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "1 unexpected bytes after the footer");
	CHECK_INT(tz_parse_tzif(buf, len - 1, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "footer unterminated or longer than 128 bytes");
	buf[4] = '1';
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "unknown TZif version 0x31");
	buf[0] = 'X';
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "not a TZif file");
	/* counts over the limits are refused before any size is computed */
	memcpy(buf, "TZif2", 5);
	tzif_put32(buf + 32, TZ_MAX_TRANSITIONS + 1);
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "more than 4000 transitions");
	tzif_put32(buf + 32, 0);
	tzif_put32(buf + 36, 0);
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "bad number of local time types (0)");
	tzif_put32(buf + 36, 257);
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "bad number of local time types (257)");
	tzif_put32(buf + 36, 1);
	tzif_put32(buf + 40, 0xffffffffu);
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "bad size of the abbreviations (4294967295 bytes)");
	tzif_put32(buf + 40, 4);
	tzif_put32(buf + 20, 5);
	CHECK_INT(tz_parse_tzif(buf, len, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "UT/standard indicator counts do not match the types");
	CHECK_INT(tz_parse_tzif(buf, TZ_FILE_MAX + 1, "t", &tz, &err), -1);
	CHECK_STR(err.msg, "larger than 65536 bytes");
	CHECK(tz == NULL);
}

/* A zone with the most transitions allowed loads, and lookups stay right. */
TEST(tzif_at_the_limits)
{
	static uint8_t buf[TZ_FILE_MAX];
	static int64_t times[TZ_MAX_TRANSITIONS];
	static uint8_t idx[TZ_MAX_TRANSITIONS];
	for (size_t i = 0; i < TZ_MAX_TRANSITIONS; i++) {
		times[i] = (int64_t)i * 3600;
		idx[i] = (uint8_t)(i % 2);
	}
	struct tzif_spec s = spec_good();
	s.ntimes = TZ_MAX_TRANSITIONS;
	s.times = times;
	s.idx = idx;
	s.footer = "";
	size_t len = tzif_build(buf, &s);
	struct tz *tz = NULL;
	struct err err;
	CHECK_INT(tz_parse_tzif(buf, len, "many", &tz, &err), 0);
	if (tz) {
		CHECK_INT(tz_offset(tz, 3600 * 1001 + 5), 7200);
		CHECK_INT(tz_offset(tz, 3600 * 1002), 3600);
		CHECK_STR(span_str(tz, 3600 * 3999 + 1),
			  "14396400 9223372036854775807 7200 3600 CEST dst");
	}
	tz_free(&tz);
}

int main(void)
{
	RUN(tzif_every_prefix_is_refused);
	RUN(tzif_mutations_never_crash);
	RUN(tzif_built_files);
	RUN(tzif_at_the_limits);
	return test_summary();
}
