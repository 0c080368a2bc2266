#include "engine/util/str.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine/util/xalloc.h"

int str_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out_r)
{
	if (len == 0)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		/* d > max first: max - d would wrap for a max below 9 */
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out_r = v;
	return 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

static int parse_with_units(const char *s, const struct unit *units, uint64_t *out_r)
{
	while (*s == ' ')
		s++;
	size_t digits = 0;
	while (s[digits] >= '0' && s[digits] <= '9')
		digits++;
	uint64_t v;
	if (str_parse_u64(s, digits, UINT64_MAX, &v) < 0)
		return -1;
	const char *u = s + digits;
	while (*u == ' ')
		u++;
	size_t ulen = strlen(u);
	while (ulen && u[ulen - 1] == ' ')
		ulen--;
	for (const struct unit *un = units; un->name; un++) {
		if (strlen(un->name) == ulen && strncasecmp(u, un->name, ulen) == 0) {
			if (un->mult && v > UINT64_MAX / un->mult)
				return -1;
			*out_r = v * un->mult;
			return 0;
		}
	}
	return -1;
}

int str_parse_size(const char *s, uint64_t *bytes_r)
{
	static const struct unit units[] = {
		{"", 1}, {"b", 1},
		{"k", 1024}, {"kb", 1024}, {"kib", 1024},
		{"m", 1024 * 1024}, {"mb", 1024 * 1024}, {"mib", 1024 * 1024},
		{"g", 1024ULL * 1024 * 1024}, {"gb", 1024ULL * 1024 * 1024},
		{"gib", 1024ULL * 1024 * 1024},
		{NULL, 0},
	};
	return parse_with_units(s, units, bytes_r);
}

int str_parse_duration_ms(const char *s, uint64_t *ms_r)
{
	static const struct unit units[] = {
		{"", 1000}, {"ms", 1}, {"s", 1000}, {"sec", 1000},
		{"m", 60000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000},
		{NULL, 0},
	};
	return parse_with_units(s, units, ms_r);
}

bool str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_iprefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

bool slice_ieq(struct slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

const char *str_fmt_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char *names[] = {"B", "KB", "MB", "GB", "TB"};
	unsigned i = 0;
	double v = (double)bytes;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0 || v == (double)(uint64_t)v)
		snprintf(out, outlen, "%llu %s", (unsigned long long)v, names[i]);
	else
		snprintf(out, outlen, "%.1f %s", v, names[i]);
	return out;
}

const char *str_fmt_duration_ms(uint64_t ms, char *out, size_t outlen)
{
	unsigned long long v = (unsigned long long)ms;
	if (ms && ms % 3600000 == 0)
		snprintf(out, outlen, "%lluh", v / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(out, outlen, "%llum", v / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(out, outlen, "%llus", v / 1000);
	else
		snprintf(out, outlen, "%llums", v);
	return out;
}

static int codepoint_width(uint32_t c)
{
	if (c >= 0x300 && c <= 0x36f)
		return 0; /* combining diacritics */
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1faff) ||
	    (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

size_t str_display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	while (*p) {
		uint32_t c = *p;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			   (c & 0xf8) == 0xf0 ? 4 : 1;
		size_t i = 1;
		if (n > 1) {
			c &= 0x3fu >> (n - 1);
			for (; i < n && (p[i] & 0xc0) == 0x80; i++)
				c = (c << 6) | (p[i] & 0x3fu);
			if (i < n) {
				c = 0xfffd; /* cut sequence: one column, go on after it */
				n = i;
			}
		}
		w += (size_t)codepoint_width(c);
		p += n;
	}
	return w;
}

char *str_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}
