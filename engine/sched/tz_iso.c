/*
 * ISO 8601 times in a zone: written with the zone's offset, read with an
 * explicit offset or on the zone's wall clock. The command line reads these
 * (schedule --from), so the reader checks every field's range.
 */
#include "engine/sched/tz_int.h"

#include <stdio.h>
#include <string.h>

#include "engine/sched/civil.h"

int tz_format_iso(const struct tz *tz, time_t t, char *out, size_t outlen)
{
	if (t < CIVIL_SECONDS_MIN || t > CIVIL_SECONDS_MAX)
		return -1;
	int32_t off = tz_offset(tz, t);
	struct civil_time ct;
	civil_from_seconds(t + off, &ct);
	if (ct.year < CIVIL_YEAR_MIN || ct.year > CIVIL_YEAR_MAX)
		return -1;
	char sign = off < 0 ? '-' : '+';
	int32_t a = off < 0 ? -off : off;
	int n;
	if (a % 60)
		n = snprintf(out, outlen, "%04lld-%02u-%02uT%02u:%02u:%02u%c%02d:%02d:%02d",
			     (long long)ct.year, ct.month, ct.day, ct.hour, ct.minute, ct.second,
			     sign, (int)(a / 3600), (int)(a / 60 % 60), (int)(a % 60));
	else
		n = snprintf(out, outlen, "%04lld-%02u-%02uT%02u:%02u:%02u%c%02d:%02d",
			     (long long)ct.year, ct.month, ct.day, ct.hour, ct.minute, ct.second,
			     sign, (int)(a / 3600), (int)(a / 60 % 60));
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Exactly `digits` digits at *p into *v, with *v <= max; advances p. */
static int digits(const char **p, unsigned n, unsigned max, unsigned *v)
{
	unsigned x = 0;
	for (unsigned i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		x = x * 10 + (unsigned)(c - '0');
	}
	if (x > max)
		return -1;
	*p += n;
	*v = x;
	return 0;
}

static int parse_offset(const char *p, int32_t *off_r)
{
	unsigned h, m = 0;
	if (*p == 'Z' || *p == 'z') {
		*off_r = 0;
		return p[1] ? -1 : 0;
	}
	int sign = *p == '-' ? -1 : 1;
	if (*p != '+' && *p != '-')
		return -1;
	p++;
	if (digits(&p, 2, 23, &h) < 0)
		return -1;
	if (*p == ':')
		p++;
	if (*p && digits(&p, 2, 59, &m) < 0)
		return -1;
	if (*p)
		return -1;
	*off_r = sign * (int32_t)(h * 3600 + m * 60);
	return 0;
}

int tz_parse_iso(const struct tz *tz, const char *s, time_t *t_r, struct err *err)
{
	const char *p = s;
	unsigned y, mo, d, h = 0, mi = 0, sec = 0;
	if (digits(&p, 4, 9999, &y) < 0 || y < 1 || *p++ != '-' ||
	    digits(&p, 2, 12, &mo) < 0 || mo < 1 || *p++ != '-' ||
	    digits(&p, 2, 31, &d) < 0 || d < 1)
		goto bad;
	if (d > civil_month_days(y, mo))
		return err_set(err, ERR_FATAL, "\"%.40s\": %04u-%02u has no day %u", s, y, mo, d);
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, 23, &h) < 0 || *p++ != ':' || digits(&p, 2, 59, &mi) < 0)
			goto bad;
		if (*p == ':' && (p++, digits(&p, 2, 59, &sec) < 0))
			goto bad;
	}
	int64_t local = civil_to_seconds(y, mo, d, h, mi, sec);
	if (!*p) {
		if (tz_from_local(tz, local, t_r) < 0)
			goto bad;
		return 0;
	}
	int32_t off;
	if (parse_offset(p, &off) < 0)
		goto bad;
	*t_r = local - off;
	return 0;
bad:
	return err_set(err, ERR_FATAL, "\"%.40s\" is not an ISO 8601 time such as "
		       "2026-03-29T02:30:00+01:00, 2026-03-29T02:30 or 2026-03-29", s);
}
