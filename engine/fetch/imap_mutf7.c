/*
 * SECURITY: decodes mailbox names a server sends (LIST). Every byte is
 * checked; a name longer than IMAP_MAILBOX_MAX is refused before any work;
 * nothing is written past the caller's capped buffer. Non-canonical
 * spellings are refused so that one name never has two spellings (a
 * folder matched by a config name is the folder the server means).
 *
 * Hand-written on purpose: iconv's UTF-7 is RFC 2152, not IMAP's variant
 * (',' instead of '/', '&' as the shift character, no optional direct
 * characters), and none of our libraries has the IMAP form.
 */
#include "engine/fetch/imap_mutf7.h"

#include <stdint.h>

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == ',')
		return 63;
	return -1;
}

/* One code point from s (at most len bytes); 0 on error. *n_r: bytes used. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *n_r)
{
	uint32_t cp;
	size_t n;
	unsigned char c = s[0];
	if (c < 0x80) {
		*n_r = 1;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond Unicode */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*n_r = n;
	return cp;
}

bool imap_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	while (i < len) {
		if (utf8_next(p + i, len - i, &n) == 0)
			return false;
		i += n;
	}
	return true;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xc0 | cp >> 6);
		t[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xe0 | cp >> 12);
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		t[0] = (char)(0xf0 | cp >> 18);
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		t[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(out, t, n);
}

static bool direct(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

struct b64_state {
	uint32_t bits;
	unsigned nbits;
};

static void b64_put16(struct buf *out, struct b64_state *st, uint32_t unit)
{
	st->bits = (st->bits << 16 | unit) & 0xffffffu;
	st->nbits += 16;
	while (st->nbits >= 6) {
		st->nbits -= 6;
		buf_addc(out, b64[(st->bits >> st->nbits) & 0x3f]);
	}
}

int imap_mutf7_encode(const char *utf8, size_t len, struct buf *out, struct err *err)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t start = out->len;
	size_t i = 0;
	/* the limit is on the encoded form; UTF-8 may be up to 4/3 of it (CJK) */
	if (len > 4 * IMAP_MAILBOX_MAX)
		return err_set(err, ERR_FATAL, "mailbox name longer than %d bytes",
			       4 * IMAP_MAILBOX_MAX);
	while (i < len) {
		if (direct(s[i])) {
			buf_addc(out, (char)s[i]);
			if (s[i] == '&')
				buf_addc(out, '-');
			i++;
			continue;
		}
		/* a run of everything that is not printable ASCII, as UTF-16BE */
		struct b64_state st = {0};
		buf_addc(out, '&');
		while (i < len && !direct(s[i])) {
			size_t n;
			uint32_t cp = utf8_next(s + i, len - i, &n);
			if (cp == 0)
				return err_set(err, ERR_FATAL, "mailbox name is not valid UTF-8 "
					       "(byte %zu)", i + 1);
			if (cp >= 0x10000) {
				cp -= 0x10000;
				b64_put16(out, &st, 0xd800 | cp >> 10);
				b64_put16(out, &st, 0xdc00 | (cp & 0x3ff));
			} else {
				b64_put16(out, &st, cp);
			}
			i += n;
		}
		if (st.nbits)
			buf_addc(out, b64[(st.bits << (6 - st.nbits)) & 0x3f]);
		buf_addc(out, '-');
	}
	if (out->failed || out->len - start > IMAP_MAILBOX_MAX)
		return err_set(err, ERR_FATAL, "mailbox name too long once encoded");
	return 0;
}

/* Decodes the run s[0..n) (between '&' and '-') as UTF-16BE into out. */
static int decode_run(const unsigned char *s, size_t n, struct buf *out, struct err *err)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return err_set(err, ERR_SOURCE, "byte '%c' is not allowed in a modified "
				       "base64 run", s[i]);
		bits = (bits << 6 | (uint32_t)v) & 0xffffffu;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		if (high) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return err_set(err, ERR_SOURCE, "unpaired UTF-16 surrogate");
			put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return err_set(err, ERR_SOURCE, "unpaired UTF-16 surrogate");
		} else if (unit == 0 || (unit >= 0x20 && unit <= 0x7e)) {
			return err_set(err, ERR_SOURCE, "printable ASCII or NUL inside a shifted "
				       "run");
		} else {
			put_utf8(out, unit);
		}
	}
	if (high)
		return err_set(err, ERR_SOURCE, "unpaired UTF-16 surrogate at the end of a run");
	/* at most 4 bits of padding, all zero (RFC 3501: no '=' padding) */
	if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0)
		return err_set(err, ERR_SOURCE, "a shifted run ends with stray bits");
	return 0;
}

int imap_mutf7_decode(const char *in, size_t len, struct buf *out, struct err *err)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	size_t start = out->len;
	bool after_run = false;
	if (len > IMAP_MAILBOX_MAX)
		return err_set(err, ERR_SOURCE, "mailbox name longer than %d bytes",
			       IMAP_MAILBOX_MAX);
	while (i < len) {
		if (!direct(s[i]))
			return err_set(err, ERR_SOURCE, "byte 0x%02x at %zu is not allowed in a "
				       "modified UTF-7 name", s[i], i + 1);
		if (s[i] != '&') {
			buf_addc(out, (char)s[i++]);
			after_run = false;
			continue;
		}
		size_t j = i + 1;
		while (j < len && s[j] != '-')
			j++;
		if (j == len)
			return err_set(err, ERR_SOURCE, "a shifted run at %zu does not end with "
				       "'-'", i + 1);
		if (j == i + 1) {
			buf_addc(out, '&');
			after_run = false;
		} else {
			/* "&A-&B-" would be a second spelling of "&AB-"-style runs */
			if (after_run)
				return err_set(err, ERR_SOURCE, "two shifted runs in a row at %zu",
					       i + 1);
			if (decode_run(s + i + 1, j - i - 1, out, err) < 0)
				return err_prefix(err, "at %zu", i + 1);
			after_run = true;
		}
		i = j + 1;
	}
	if (out->failed || out->len - start > 4 * IMAP_MAILBOX_MAX)
		return err_set(err, ERR_SOURCE, "decoded mailbox name too long");
	return 0;
}
