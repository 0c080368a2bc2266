/*
 * engine/sched time zones: offsets and spans at known changes (Berlin,
 * New York, Dublin's negative DST, Lord Howe's half hour), the POSIX rules
 * of the footers beyond the tables, every zone on this machine against
 * glibc's localtime_r, zone names and files, "local", and ISO 8601 in and
 * out. The TZif parser itself is in test_tzif.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/sched/tz.h"
#include "engine/util/xalloc.h"
#include "tests/unit/test.h"

#define ZONEINFO "/usr/share/zoneinfo"

static struct tz *load(const char *name)
{
	struct tz *tz = NULL;
	struct err err = {0};
	if (tz_load(name, &tz, &err) < 0) {
		fprintf(stderr, "  tz_load(%s): %s\n", name ? name : "NULL", err.msg);
		test_failed_now = 1;
	}
	return tz;
}

static const char *iso(const struct tz *tz, time_t t)
{
	static char out[TZ_ISO_MAX];
	if (tz_format_iso(tz, t, out, sizeof(out)) < 0)
		return "FORMAT ERROR";
	return out;
}

/* The span at t as "start end offset prev abbr". */
static const char *span_str(const struct tz *tz, time_t t)
{
	static char out[160];
	struct tz_span s;
	tz_span(tz, t, &s);
	snprintf(out, sizeof(out), "%lld %lld %d %d %s%s", (long long)s.start, (long long)s.end,
		 (int)s.offset, (int)s.prev_offset, s.abbr, s.is_dst ? " dst" : "");
	return out;
}

TEST(utc_is_built_in)
{
	struct tz *tz;
	for (int i = 0; i < 3; i++) {
		tz = load(i == 0 ? NULL : i == 1 ? "" : "UTC");
		if (!tz)
			continue;
		CHECK_STR(tz_name(tz), "UTC");
		CHECK_INT(tz_offset(tz, 1774746000), 0);
		CHECK_STR(span_str(tz, 0), "-9223372036854775808 9223372036854775807 0 0 UTC");
		CHECK_STR(iso(tz, 1774746000), "2026-03-29T01:00:00+00:00");
		tz_free(&tz);
		CHECK(tz == NULL);
	}
}

TEST(known_changes)
{
	struct tz *tz = load("Europe/Berlin");
	if (tz) {
		CHECK_STR(tz_name(tz), "Europe/Berlin");
		/* 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST */
		CHECK_STR(span_str(tz, 1774746000), "1774746000 1792890000 7200 3600 CEST dst");
		CHECK_STR(span_str(tz, 1774745999), "1761440400 1774746000 3600 7200 CET");
		CHECK_STR(iso(tz, 1774745999), "2026-03-29T01:59:59+01:00");
		CHECK_STR(iso(tz, 1774746000), "2026-03-29T03:00:00+02:00");
		/* 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET */
		CHECK_STR(iso(tz, 1792889999), "2026-10-25T02:59:59+02:00");
		CHECK_STR(iso(tz, 1792890000), "2026-10-25T02:00:00+01:00");
		/* beyond the table: the footer's rule (last Sunday of March 2100) */
		CHECK_STR(span_str(tz, 4109878800), "4109878800 4128627600 7200 3600 CEST dst");
		CHECK_STR(iso(tz, 4109878799), "2100-03-28T01:59:59+01:00");
		/* before time zones: local mean time, offsets with seconds */
		CHECK_STR(iso(tz, -2524521600), "1890-01-01T00:53:28+00:53:28");
		CHECK_STR(iso(tz, 253402300799 - 3600), "9999-12-31T23:59:59+01:00");
		CHECK_STR(iso(tz, 253402300799), "FORMAT ERROR");   /* the year 10000 */
		tz_free(&tz);
	}
	tz = load("America/New_York");
	if (tz) {
		CHECK_STR(span_str(tz, 1772953200), "1772953200 1793512800 -14400 -18000 EDT dst");
		CHECK_STR(iso(tz, 1772953199), "2026-03-08T01:59:59-05:00");
		CHECK_STR(iso(tz, 1772953200), "2026-03-08T03:00:00-04:00");
		CHECK_STR(iso(tz, 1793512799), "2026-11-01T01:59:59-04:00");
		CHECK_STR(iso(tz, 1793512800), "2026-11-01T01:00:00-05:00");
		tz_free(&tz);
	}
	tz = load("Europe/Dublin");   /* "IST-1GMT0,M10.5.0,M3.5.0/1": winter is the DST */
	if (tz) {
		CHECK_STR(iso(tz, 4109878800), "2100-03-28T02:00:00+01:00");
		CHECK_STR(span_str(tz, 4109878799), "4096573200 4109878800 0 3600 GMT dst");
		CHECK_STR(iso(tz, 4128627600), "2100-10-31T01:00:00+00:00");
		tz_free(&tz);
	}
	tz = load("Australia/Lord_Howe");   /* half an hour */
	if (tz) {
		CHECK_STR(iso(tz, 1775314799), "2026-04-05T01:59:59+11:00");
		CHECK_STR(iso(tz, 1775314800), "2026-04-05T01:30:00+10:30");
		tz_free(&tz);
	}
}

TEST(posix_rules)
{
	static const struct {
		const char *rule;
		time_t t;
		const char *want;   /* the ISO time at t, or "ERROR: message" */
	} r[] = {
		{"EST5EDT,M3.2.0,M11.1.0", 1772953199, "2026-03-08T01:59:59-05:00"},
		{"EST5EDT,M3.2.0,M11.1.0", 1772953200, "2026-03-08T03:00:00-04:00"},
		/* daylight time without dates: the US rule, as glibc */
		{"EST5EDT", 1772953200, "2026-03-08T03:00:00-04:00"},
		{"EST5EDT", 1793512800, "2026-11-01T01:00:00-05:00"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", 1792890000, "2026-10-25T02:00:00+01:00"},
		{"<+0530>-5:30", 0, "1970-01-01T05:30:00+05:30"},
		{"<-0330>3:30", 0, "1969-12-31T20:30:00-03:30"},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", 1767225600, "2026-01-01T13:00:00+13:00"},
		/* Julian days: J60 is March 1 in every year; zero-based 59 is February 29
		 * in a leap year */
		{"AAA0BBB,J60/0,J300/0", 1709251199, "2024-02-29T23:59:59+00:00"},
		{"AAA0BBB,J60/0,J300/0", 1709251200, "2024-03-01T01:00:00+01:00"},
		{"AAA0BBB,59/0,J300/0", 1709164799, "2024-02-28T23:59:59+00:00"},
		{"AAA0BBB,59/0,J300/0", 1709164800, "2024-02-29T01:00:00+01:00"},
		{"AAA0BBB,59/0,J300/0", 1740787199, "2025-02-28T23:59:59+00:00"},
		{"AAA0BBB,59/0,J300/0", 1740787200, "2025-03-01T01:00:00+01:00"},
		/* daylight time all year: one year's end meets the next one's start */
		{"EST5EDT,0/0,J365/25", 1767225600, "2025-12-31T20:00:00-04:00"},
		{"EST5EDT,0/0,J365/25", 1782864000, "2026-06-30T20:00:00-04:00"},
		/* hours beyond 24 and negative (RFC 8536) */
		{"EET-2EEST,M3.4.4/50,M10.4.4/50", 1774655999, "2026-03-28T01:59:59+02:00"},
		{"EET-2EEST,M3.4.4/50,M10.4.4/50", 1774656000, "2026-03-28T03:00:00+03:00"},
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 1774745999, "2026-03-28T22:59:59-02:00"},
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 1774746000, "2026-03-29T00:00:00-01:00"},
		{"", 0, "ERROR: time zone rule: rule must be 1 to 128 characters"},
		{"ES5", 0, "ERROR: time zone rule: expected a zone name of 3 or more letters at 3"},
		{"EST", 0, "ERROR: time zone rule: expected a time [+-]hh[:mm[:ss]] (hours up to "
		 "24) at 4"},
		{"EST25", 0, "ERROR: time zone rule: expected a time [+-]hh[:mm[:ss]] (hours up "
		 "to 24) at 4"},
		{"EST5:60", 0, "ERROR: time zone rule: expected a time [+-]hh[:mm[:ss]] (hours up "
		 "to 24) at 4"},
		{"EST5EDT,M13.1.0,M11.1.0", 0, "ERROR: time zone rule: expected a date (Jn, n or "
		 "Mm.w.d) at 9"},
		{"EST5EDT,M3.6.0,M11.1.0", 0, "ERROR: time zone rule: expected a date (Jn, n or "
		 "Mm.w.d) at 9"},
		{"EST5EDT,J0,M11.1.0", 0, "ERROR: time zone rule: expected a date (Jn, n or "
		 "Mm.w.d) at 9"},
		{"EST5EDT,366,M11.1.0", 0, "ERROR: time zone rule: expected a date (Jn, n or "
		 "Mm.w.d) at 9"},
		{"EST5EDT,M3.2.0", 0, "ERROR: time zone rule: expected ',' and the end date at 15"},
		{"EST5EDT,M3.2.0/168,M11.1.0", 0, "ERROR: time zone rule: expected a time "
		 "[+-]hh[:mm[:ss]] (hours up to 167) at 16"},
		{"EST5EDT,M3.2.0,M11.1.0x", 0, "ERROR: time zone rule: unexpected text at 23"},
		{"<AB>5", 0, "ERROR: time zone rule: expected a zone name of 3 or more letters at 5"},
		{"<A B>5", 0, "ERROR: time zone rule: bad character in <name> at 3"},
		{"<ABCDEFGHIJKLMNOPQ>5", 0, "ERROR: time zone rule: zone name longer than 16 "
		 "characters"},
		{"<ABC", 0, "ERROR: time zone rule: bad character in <name> at 5"},
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct tz *tz = NULL;
		struct err err = {0};
		char got[600];
		if (tz_parse_posix(r[i].rule, &tz, &err) < 0)
			snprintf(got, sizeof(got), "ERROR: %s", err.msg);
		else
			snprintf(got, sizeof(got), "%s", iso(tz, r[i].t));
		if (strcmp(got, r[i].want) != 0) {
			fprintf(stderr, "  \"%s\" at %lld:\n    got  %s\n    want %s\n", r[i].rule,
				(long long)r[i].t, got, r[i].want);
			test_failed_now = 1;
		}
		tz_free(&tz);
	}
}

/* Offsets glibc gives for t in the zone (the one place this test changes TZ). */
static long glibc_offset(time_t t)
{
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return -999999;
	return tm.tm_gmtoff;
}

static int compare_zone(const char *name, time_t step)
{
	struct tz *tz = NULL;
	struct err err;
	int bad = 0;
	if (tz_load(name, &tz, &err) < 0) {
		fprintf(stderr, "  %s: %s\n", name, err.msg);
		return 1;
	}
	setenv("TZ", name, 1);
	tzset();
	/* the spans' edges exactly, 1850 to 2200, then a sample in between */
	for (time_t t = -3786825600LL; t < 7258118400LL && bad < 3;) {
		struct tz_span s;
		tz_span(tz, t, &s);
		if (s.start > -3786825600LL && s.start != INT64_MIN) {
			if (glibc_offset(s.start) != s.offset ||
			    glibc_offset(s.start - 1) != s.prev_offset) {
				fprintf(stderr, "  %s: change at %lld: ours %d -> %d, glibc %ld -> %ld\n",
					name, (long long)s.start, (int)s.prev_offset, (int)s.offset,
					glibc_offset(s.start - 1), glibc_offset(s.start));
				bad++;
			}
		}
		if (s.end == INT64_MAX)
			break;
		t = s.end;
	}
	for (time_t t = -3786825600LL; t < 7258118400LL && bad < 3; t += step) {
		if (glibc_offset(t) != tz_offset(tz, t)) {
			fprintf(stderr, "  %s at %lld: ours %d, glibc %ld\n", name, (long long)t,
				(int)tz_offset(tz, t), glibc_offset(t));
			bad++;
		}
	}
	tz_free(&tz);
	return bad;
}

static bool is_tzif(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0;
	close(fd);
	return ok;
}

/* Every zone file under dir/rel (not posix/ and right/), depth-first. */
static int compare_tree(const char *rel, int *nzones)
{
	char path[512];
	int bad = 0;
	snprintf(path, sizeof(path), ZONEINFO "%s%s", rel[0] ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char sub[512], full[1024];
		if (e->d_name[0] == '.' || strcmp(e->d_name, "posix") == 0 ||
		    strcmp(e->d_name, "right") == 0 || strcmp(e->d_name, "localtime") == 0 ||
		    strcmp(e->d_name, "posixrules") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
		snprintf(full, sizeof(full), ZONEINFO "/%s", sub);
		struct stat st;
		if (stat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			bad += compare_tree(sub, nzones);
		} else if (is_tzif(full)) {
			(*nzones)++;
			bad += compare_zone(sub, 86400 * 97 + 3607);
		}
	}
	closedir(d);
	return bad;
}

TEST(every_zone_agrees_with_glibc)
{
	static const char *const close_look[] = {
		"Europe/Berlin", "America/New_York", "Europe/Dublin", "Australia/Lord_Howe",
		"Africa/Casablanca", "America/Sao_Paulo", "Asia/Tehran", "Pacific/Apia",
		"Antarctica/Troll", "Asia/Hebron", "America/Santiago", "Pacific/Chatham",
	};
	char *old = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	int bad = 0, nzones = 0;
	for (size_t i = 0; i < sizeof(close_look) / sizeof(close_look[0]); i++)
		bad += compare_zone(close_look[i], 86400 + 3607);
	bad += compare_tree("", &nzones);
	CHECK_INT(bad, 0);
	CHECK(nzones > 300);   /* tzdata is installed and was walked */
	if (old)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
}

TEST(names_and_files)
{
	static const struct {
		const char *name, *msg;
	} e[] = {
		{"../etc/passwd", "invalid time zone name \"../etc/passwd\" (expected an IANA name "
		 "such as \"Europe/Berlin\")"},
		{"/etc/passwd", "invalid time zone name \"/etc/passwd\" (expected an IANA name such "
		 "as \"Europe/Berlin\")"},
		{"Europe//Berlin", "invalid time zone name \"Europe//Berlin\" (expected an IANA "
		 "name such as \"Europe/Berlin\")"},
		{"Europe/./Berlin", "invalid time zone name \"Europe/./Berlin\" (expected an IANA "
		 "name such as \"Europe/Berlin\")"},
		{"Europe/", "invalid time zone name \"Europe/\" (expected an IANA name such as "
		 "\"Europe/Berlin\")"},
		{"Europe Berlin", "invalid time zone name \"Europe Berlin\" (expected an IANA name "
		 "such as \"Europe/Berlin\")"},
		{"Mars/Olympus_Mons", "unknown time zone \"Mars/Olympus_Mons\""},
		{"Europe", "unknown time zone \"Europe\""},
		{"Europe/Berlin/x", "unknown time zone \"Europe/Berlin/x\""},
		{"zone.tab", "time zone \"zone.tab\": " ZONEINFO "/zone.tab: not a TZif file"},
		{"right/Europe/Berlin", "time zone \"right/Europe/Berlin\": " ZONEINFO
		 "/right/Europe/Berlin: zones with leap seconds are not supported (use a zone "
		 "outside \"right/\")"},
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		struct tz *tz = NULL;
		struct err err = {0};
		CHECK_INT(tz_load(e[i].name, &tz, &err), -1);
		CHECK_STR(err.msg, e[i].msg);
		CHECK_INT(err.cls, ERR_FATAL);
		CHECK(tz == NULL);
	}
	char name[TZ_NAME_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct tz *tz = NULL;
	struct err err;
	CHECK_INT(tz_load(name, &tz, &err), -1);
	/* $TZDIR moves the zone directory */
	char dir[] = "/tmp/m2t-tzdir-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/Test_Zone", dir);
	FILE *in = fopen(ZONEINFO "/Europe/Berlin", "rb");
	FILE *f = fopen(path, "wb");
	char buf[8192];
	size_t len = in ? fread(buf, 1, sizeof(buf), in) : 0;
	CHECK(len > 0 && f && fwrite(buf, 1, len, f) == len);
	if (in)
		fclose(in);
	if (f)
		fclose(f);
	setenv("TZDIR", dir, 1);
	tz = load("Test_Zone");
	if (tz)
		CHECK_STR(iso(tz, 1774746000), "2026-03-29T03:00:00+02:00");
	tz_free(&tz);
	CHECK_INT(tz_load("Europe/Berlin", &tz, &err), -1);
	/* a file over the size limit */
	f = fopen(path, "wb");
	for (int i = 0; f && i < TZ_FILE_MAX / 64 + 1; i++)
		fwrite("0123456789012345678901234567890123456789012345678901234567890123", 1, 64, f);
	if (f)
		fclose(f);
	CHECK_INT(tz_load("Test_Zone", &tz, &err), -1);
	char want[256];
	snprintf(want, sizeof(want), "time zone \"Test_Zone\": %s is larger than 65536 bytes",
		 path);
	CHECK_STR(err.msg, want);
	unsetenv("TZDIR");
	unlink(path);
	rmdir(dir);
}

TEST(local_zone)
{
	static const struct {
		const char *tzenv;
		const char *want;   /* the ISO time of 2026-07-01T00:00Z, or the error */
	} l[] = {
		{"", "2026-07-01T00:00:00+00:00"},
		{":", "2026-07-01T00:00:00+00:00"},
		{"Europe/Berlin", "2026-07-01T02:00:00+02:00"},
		{":America/New_York", "2026-06-30T20:00:00-04:00"},
		{ZONEINFO "/Asia/Tokyo", "2026-07-01T09:00:00+09:00"},
		{":" ZONEINFO "/Asia/Tokyo", "2026-07-01T09:00:00+09:00"},
		{"CET-1CEST,M3.5.0,M10.5.0/3", "2026-07-01T02:00:00+02:00"},
		{"<+0545>-5:45", "2026-07-01T05:45:00+05:45"},
		{"Nowhere/Land", "ERROR TZ=\"Nowhere/Land\" is neither a known zone nor a POSIX "
		 "rule"},
		{"/nonexistent/zone", "ERROR time zone \"local\": cannot read /nonexistent/zone: No "
		 "such file or directory"},
	};
	char *old = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		struct tz *tz = NULL;
		struct err err = {0};
		char got[600];
		setenv("TZ", l[i].tzenv, 1);
		if (tz_load("local", &tz, &err) < 0) {
			snprintf(got, sizeof(got), "ERROR %s", err.msg);
		} else {
			snprintf(got, sizeof(got), "%s", iso(tz, 1782864000));
			CHECK_STR(tz_name(tz), "local");
		}
		if (strcmp(got, l[i].want) != 0) {
			fprintf(stderr, "  TZ=%s:\n    got  %s\n    want %s\n", l[i].tzenv, got,
				l[i].want);
			test_failed_now = 1;
		}
		tz_free(&tz);
	}
	/* without TZ: /etc/localtime, whatever this machine's zone is */
	unsetenv("TZ");
	struct tz *tz = load("local");
	if (tz) {
		tzset();
		CHECK_INT(tz_offset(tz, 1782864000), glibc_offset(1782864000));
		CHECK_INT(tz_offset(tz, 1767225600), glibc_offset(1767225600));
	}
	tz_free(&tz);
	if (old)
		setenv("TZ", old, 1);
	tzset();
	free(old);
}

TEST(iso_in_and_out)
{
	struct tz *ber = load("Europe/Berlin");
	struct tz *utc = load("UTC");
	if (!ber || !utc)
		goto out;
	static const struct {
		const char *in;
		const char *want;   /* as Berlin prints it, or the error */
	} p[] = {
		{"2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29t01:00:00z", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29T03:00:00+02:00", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29T03:00:00+0200", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29T03:00:00+02", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29T00:00:00-01:00", "2026-03-29T03:00:00+02:00"},
		{"2026-03-29 01:30", "2026-03-29T01:30:00+01:00"},
		{"2026-03-29", "2026-03-29T00:00:00+01:00"},
		/* skipped by the change: read with the offset before it */
		{"2026-03-29T02:30", "2026-03-29T03:30:00+02:00"},
		/* shown twice: the first */
		{"2026-10-25T02:30", "2026-10-25T02:30:00+02:00"},
		{"2026-10-25T02:30+01:00", "2026-10-25T02:30:00+01:00"},
		{"0001-01-01T00:00Z", "0001-01-01T00:53:28+00:53:28"},
		{"2026-02-29", "ERROR \"2026-02-29\": 2026-02 has no day 29"},
		{"2026-13-01", "ERROR \"2026-13-01\" is not an ISO 8601 time such as "
		 "2026-03-29T02:30:00+01:00, 2026-03-29T02:30 or 2026-03-29"},
		{"2026-01-01T24:00", "ERROR"},
		{"2026-01-01T10:60", "ERROR"},
		{"2026-01-01T10:00:60", "ERROR"},
		{"2026-01-01T10", "ERROR"},
		{"2026-1-01", "ERROR"},
		{"26-01-01", "ERROR"},
		{"0000-01-01", "ERROR"},
		{"2026-01-01T10:00+24:00", "ERROR"},
		{"2026-01-01T10:00+01:0", "ERROR"},
		{"2026-01-01T10:00Zx", "ERROR"},
		{"2026-01-01T10:00 ", "ERROR"},
		{"", "ERROR"},
		{"tomorrow", "ERROR"},
	};
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		struct err err = {0};
		time_t t;
		char got[600];
		if (tz_parse_iso(ber, p[i].in, &t, &err) < 0)
			snprintf(got, sizeof(got), "ERROR %s", err.msg);
		else
			snprintf(got, sizeof(got), "%s", iso(ber, t));
		if (strcmp(p[i].want, "ERROR") == 0 ? strncmp(got, "ERROR ", 6) != 0 :
		    strcmp(got, p[i].want) != 0) {
			fprintf(stderr, "  \"%s\":\n    got  %s\n    want %s\n", p[i].in, got,
				p[i].want);
			test_failed_now = 1;
		}
	}
	time_t t;
	CHECK_INT(tz_from_local(ber, 1774747800 + 3600, &t), 1);   /* 02:30 on 2026-03-29 */
	CHECK_INT(t, 1774747800);
	CHECK_INT(tz_from_local(ber, 1792888200 + 7200, &t), 0);   /* 02:30 on 2026-10-25 */
	CHECK_INT(t, 1792888200);
	CHECK_INT(tz_from_local(ber, 253402300799LL + 1, &t), -1);
	char small[10];
	CHECK_INT(tz_format_iso(utc, 0, small, sizeof(small)), -1);
	CHECK_INT(tz_format_iso(utc, 253402300800LL, small, sizeof(small)), -1);
	char out[TZ_ISO_MAX];
	CHECK_INT(tz_format_iso(utc, -62135596800LL, out, sizeof(out)), 0);
	CHECK_STR(out, "0001-01-01T00:00:00+00:00");
out:
	tz_free(&ber);
	tz_free(&utc);
}

int main(void)
{
	RUN(utc_is_built_in);
	RUN(known_changes);
	RUN(posix_rules);
	RUN(every_zone_agrees_with_glibc);
	RUN(names_and_files);
	RUN(local_zone);
	RUN(iso_in_and_out);
	return test_summary();
}
