/*
 * Case folding for the text operators of conditions (equals, in, ...
 * without case), and small address helpers.
 *
 * Folding is Unicode simple case folding as the C library knows it
 * (towlower of towupper in the C.UTF-8 locale, so 'ß', 'ſ' and final sigma
 * compare as expected), with a fast path for ASCII. Invalid UTF-8 bytes are
 * copied as they are (the message model hands over valid UTF-8 anyway).
 *
 * SECURITY: the input is mail text; the output size is bounded (4 bytes
 * per input byte at most) and checked before every write.
 */
#include "rules/rules_int.h"

#include <locale.h>
#include <pthread.h>
#include <string.h>
#include <wctype.h>

#include "engine/util/utf8.h"

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static size_t utf8_encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

static uint32_t fold_cp(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (!utf8_locale)
		return cp;
	wint_t u = towupper_l((wint_t)cp, utf8_locale);
	wint_t l = towlower_l(u, utf8_locale);
	/* a fold that leaves the UTF-8 range or lands on a surrogate is not one */
	if (l > 0x10FFFF || (l >= 0xD800 && l <= 0xDFFF))
		return cp;
	return (uint32_t)l;
}

/*
 * Folds s[0..len) into out, which has room for cap bytes (NUL included).
 * Returns the length, or (size_t)-1 when it does not fit.
 */
static size_t fold_into(const char *s, size_t len, char *out, size_t cap)
{
	pthread_once(&utf8_once, utf8_locale_init);
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char tmp[4];
		size_t w;
		uint32_t cp;
		if (p[i] < 0x80) {
			if (o + 1 >= cap)
				return (size_t)-1;
			out[o++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
			i++;
			continue;
		}
		size_t n = utf8_decode(p + i, len - i, &cp);
		if (!n) {
			tmp[0] = p[i];
			w = 1;
			n = 1;
		} else {
			w = utf8_encode(fold_cp(cp), tmp);
		}
		if (o + w >= cap)
			return (size_t)-1;
		memcpy(out + o, tmp, w);
		o += w;
		i += n;
	}
	out[o] = '\0';
	return o;
}

char *text_fold(struct arena *arena, const char *s, size_t len, size_t *len_r)
{
	/* folding almost never changes the length: try a little more room
	 * first, then the worst case (a character grows to at most 4 bytes) */
	size_t cap = len + len / 8 + 16;
	char *out = arena_alloc(arena, cap);
	size_t n = fold_into(s, len, out, cap);
	if (n == (size_t)-1) {
		cap = len > (SIZE_MAX - 1) / 4 ? SIZE_MAX : len * 4 + 1;
		out = arena_alloc(arena, cap);
		n = fold_into(s, len, out, cap);
	}
	*len_r = n;
	return out;
}

char *text_fold_buf(const char *s, size_t len, char *out, size_t outlen, size_t *len_r)
{
	size_t n = fold_into(s, len, out, outlen);
	if (n == (size_t)-1)
		return NULL;
	*len_r = n;
	return out;
}

const char *addr_domain(const char *email)
{
	const char *at = email ? strrchr(email, '@') : NULL;
	return at ? at + 1 : "";
}
