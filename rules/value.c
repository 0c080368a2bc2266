/*
 * Typed values of fields and condition operands: parsing text into
 * string, integer, decimal, date, email or ticket number, with overflow
 * and calendar checks.
 *
 * SECURITY: the text is mail text (a field's capture) or admin input (an
 * operand). Lengths are capped, numbers parsed without atoi/strtod's
 * surprises (no hex, no exponents, no locale).
 */
#include "rules/rules_int.h"

#include <stdio.h>
#include <string.h>

#define VALUE_MAX_TEXT 1000

enum vtype ftype_vtype(enum ftype t)
{
	switch (t) {
	case FT_INTEGER: return VT_INT;
	case FT_DECIMAL: return VT_DECIMAL;
	case FT_DATE: return VT_DATE;
	case FT_STRING:
	case FT_EMAIL:
	case FT_TICKET: return VT_TEXT;
	}
	return VT_TEXT;
}

const char *ftype_name(enum ftype t)
{
	switch (t) {
	case FT_STRING: return "string";
	case FT_INTEGER: return "integer";
	case FT_DECIMAL: return "decimal";
	case FT_DATE: return "date";
	case FT_EMAIL: return "email";
	case FT_TICKET: return "ticket";
	}
	return "string";
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool date_valid(unsigned y, unsigned m, unsigned d)
{
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
		return false;
	unsigned max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* n digits at s as a number; false when any is not a digit. */
static bool digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* YYYY-MM-DD, YYYY/MM/DD, or DD.MM.YYYY (the European order; never MM/DD). */
static bool parse_date(const char *s, size_t len, unsigned *y, unsigned *m, unsigned *d)
{
	if (len == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4])
		return digits(s, 4, y) && digits(s + 5, 2, m) && digits(s + 8, 2, d);
	if (len >= 8 && len <= 10 && memchr(s, '.', len)) {
		const char *p1 = memchr(s, '.', len);
		const char *p2 = memchr(p1 + 1, '.', len - (size_t)(p1 + 1 - s));
		if (!p2)
			return false;
		size_t nd = (size_t)(p1 - s), nm = (size_t)(p2 - p1 - 1);
		size_t ny = len - (size_t)(p2 + 1 - s);
		return nd >= 1 && nd <= 2 && nm >= 1 && nm <= 2 && ny == 4 && digits(s, nd, d) &&
		       digits(p1 + 1, nm, m) && digits(p2 + 1, 4, y);
	}
	return false;
}

static int fail(char *why, size_t whylen, const char *msg)
{
	snprintf(why, whylen, "%s", msg);
	return -1;
}

int value_parse(enum ftype t, const char *s, size_t len, struct arena *arena, struct value *v,
		char *why, size_t whylen)
{
	memset(v, 0, sizeof(*v));
	while (len && is_space(*s)) {
		s++;
		len--;
	}
	while (len && is_space(s[len - 1]))
		len--;
	if (len == 0)
		{
		char m[64];
		snprintf(m, sizeof(m), "empty, not %s", ftype_name(t));
		return fail(why, whylen, m);
	}
	if (len > VALUE_MAX_TEXT)
		return fail(why, whylen, "longer than 1000 bytes");
	v->type = ftype_vtype(t);
	switch (t) {
	case FT_STRING:
		break;
	case FT_INTEGER: {
		size_t i = s[0] == '-' || s[0] == '+';
		uint64_t u = 0;
		if (i == len || len - i > 19)
			return fail(why, whylen, "not an integer");
		for (; i < len; i++) {
			if (!is_digit(s[i]))
				return fail(why, whylen, "not an integer");
			u = u * 10 + (uint64_t)(s[i] - '0');
		}
		if (u > (uint64_t)INT64_MAX)
			return fail(why, whylen, "integer out of range");
		v->i = s[0] == '-' ? -(int64_t)u : (int64_t)u;
		v->d = (double)v->i;
		v->text = arena_printf(arena, "%lld", (long long)v->i);
		v->len = strlen(v->text);
		v->set = true;
		return 0;
	}
	case FT_DECIMAL: {
		/* digits, one '.' or ',' as the decimal mark, optional sign */
		size_t i = s[0] == '-' || s[0] == '+';
		size_t mark = 0, ndig = 0;
		char norm[64];
		size_t o = 0;
		if (s[0] == '-')
			norm[o++] = '-';
		for (; i < len; i++) {
			if (is_digit(s[i])) {
				ndig++;
			} else if ((s[i] == '.' || s[i] == ',') && !mark && ndig) {
				mark = i;
			} else {
				return fail(why, whylen, "not a decimal number");
			}
			if (o + 2 >= sizeof(norm))
				return fail(why, whylen, "decimal number too long");
			norm[o++] = s[i] == ',' ? '.' : s[i];
		}
		if (!ndig || (mark && mark == len - 1))
			return fail(why, whylen, "not a decimal number");
		norm[o] = '\0';
		double d = 0, scale = 1;
		bool frac = false;
		for (const char *p = norm; *p; p++) {
			if (*p == '.') {
				frac = true;
			} else if (is_digit(*p)) {
				if (frac) {
					scale /= 10;
					d += (*p - '0') * scale;
				} else {
					d = d * 10 + (*p - '0');
				}
			}
		}
		v->d = norm[0] == '-' ? -d : d;
		v->text = arena_strdup(arena, norm);
		v->len = o;
		v->set = true;
		return 0;
	}
	case FT_DATE: {
		unsigned y, m, d;
		if (!parse_date(s, len, &y, &m, &d) || !date_valid(y, m, d))
			return fail(why, whylen, "not a date (YYYY-MM-DD or DD.MM.YYYY)");
		v->i = days_from_civil(y, m, d);
		v->d = (double)v->i;
		v->text = arena_printf(arena, "%04u-%02u-%02u", y, m, d);
		v->len = 10;
		v->set = true;
		return 0;
	}
	case FT_EMAIL: {
		const char *at = memchr(s, '@', len);
		if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
			return fail(why, whylen, "not an email address");
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] <= ' ' || s[i] == '<' || s[i] == '>' || s[i] == ',')
				return fail(why, whylen, "not an email address");
		char *e = arena_memdup0(arena, s, len);
		/* the domain compares without case; the local part is kept */
		for (char *p = e + (at - s); *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		v->text = e;
		v->len = len;
		v->set = true;
		return 0;
	}
	case FT_TICKET:
		if (len < 5 || len > 20)
			return fail(why, whylen, "not a ticket number (5 to 20 digits)");
		for (size_t i = 0; i < len; i++)
			if (!is_digit(s[i]))
				return fail(why, whylen, "not a ticket number (5 to 20 digits)");
		break;
	}
	v->text = arena_memdup0(arena, s, len);
	v->len = len;
	v->set = true;
	return 0;
}
