/*
 * Charset conversion and UTF-8 repair for text taken from mail.
 *
 * SECURITY: every byte handled here comes from an untrusted mail. The
 * output must be valid UTF-8 without NUL (PostgreSQL text rejects both) and
 * never longer than the caller's cap; invalid input is replaced, never
 * trusted. Output sizes are measured before anything is allocated, so a
 * hostile input cannot make us allocate more than 3 bytes per input byte,
 * and never more than the cap.
 */
#include "engine/mime/mime_internal.h"

#include <errno.h>
#include <stdint.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"
#include "engine/util/utf8.h"

static const char replacement[3] = { '\xEF', '\xBF', '\xBD' }; /* U+FFFD */

bool mime_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_decode(p + i, len - i, NULL);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/*
 * One pass of the cleaner. With out == NULL it only measures; otherwise it
 * writes at most `max` bytes. Returns the output length; sets *cut when
 * input was left over because of max.
 */
static size_t clean_pass(const unsigned char *p, size_t len, bool newlines, size_t max,
			 char *out, bool *cut)
{
	size_t i = 0, o = 0;
	*cut = false;
	while (i < len) {
		const char *src;
		size_t n, adv;
		char lf = '\n';
		unsigned char c = p[i];
		if (c == 0) {
			i++;
			continue;
		}
		if (c == '\r' && newlines) {
			src = &lf;
			n = 1;
			adv = (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
		} else if (c < 0x80) {
			/* plain ASCII runs are the common case: take them whole */
			size_t r = i + 1;
			while (r < len && p[r] < 0x80 && p[r] != 0 && p[r] != '\r')
				r++;
			src = (const char *)p + i;
			n = adv = r - i;
			if (n > max - o) {
				n = adv = max - o;
				*cut = true;
				if (out)
					memcpy(out + o, src, n);
				o += n;
				break;
			}
		} else {
			adv = utf8_decode(p + i, len - i, NULL);
			if (adv == 0) {
				src = replacement;
				n = 3;
				adv = 1;
			} else {
				src = (const char *)p + i;
				n = adv;
			}
		}
		if (n > max - o) {
			*cut = true;
			break;
		}
		if (out)
			memcpy(out + o, src, n);
		o += n;
		i += adv;
	}
	return o;
}

char *mime_utf8_clean(struct arena *a, const char *s, size_t len, bool newlines,
		      size_t max, size_t *len_r, bool *truncated_r)
{
	const unsigned char *p = (const unsigned char *)s;
	bool cut;
	size_t n = clean_pass(p, len, newlines, max, NULL, &cut);
	char *out = arena_alloc(a, n + 1);
	clean_pass(p, len, newlines, n, out, &cut);
	out[n] = '\0';
	if (len_r)
		*len_r = n;
	if (truncated_r)
		*truncated_r = cut;
	return out;
}

static bool all_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/*
 * iconv conversion into a capped buffer. Bytes iconv rejects become U+FFFD
 * and are skipped one at a time, so broken input still converts. Returns
 * -1 when the charset is unknown to iconv.
 */
static int iconv_convert(const char *charset, const char *s, size_t len, size_t max,
			 struct buf *out)
{
	iconv_t cd = g_mime_iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	/* iconv's prototype takes char **; it does not write through inbuf */
	char *in = (char *)(uintptr_t)s;
	size_t inleft = len;
	char chunk[4096];
	bool flushing = false;
	while (!out->failed && out->len <= max) {
		char *o = chunk;
		size_t oleft = sizeof(chunk);
		size_t r = flushing ? iconv(cd, NULL, NULL, &o, &oleft)
				    : iconv(cd, &in, &inleft, &o, &oleft);
		int e = errno;
		buf_add(out, chunk, sizeof(chunk) - oleft);
		if (r != (size_t)-1) {
			if (flushing)
				break;
			flushing = true; /* emit the shift sequence of stateful charsets */
			continue;
		}
		if (e == E2BIG)
			continue;
		if (flushing)
			break;
		buf_add(out, replacement, sizeof(replacement));
		if (e == EILSEQ && inleft > 0) {
			in++;
			inleft--;
			continue;
		}
		/* EINVAL: an incomplete sequence at the end of the input */
		break;
	}
	g_mime_iconv_close(cd);
	return 0;
}

/* windows-1252 0x80-0x9F; 0 marks the five unassigned bytes */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
	0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

/*
 * windows-1252 without iconv: it is the most common legacy charset in our
 * mail, and opening an iconv descriptor costs more than converting a mail.
 */
static void cp1252_convert(const char *s, size_t len, size_t max, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len && out->len <= max && !out->failed; i++) {
		unsigned cp = p[i];
		if (cp < 0x80) {
			size_t r = i + 1;
			while (r < len && p[r] < 0x80)
				r++;
			buf_add(out, s + i, r - i);
			i = r - 1;
			continue;
		}
		if (cp < 0xA0)
			cp = cp1252_high[cp - 0x80] ? cp1252_high[cp - 0x80] : 0xFFFD;
		char u[3];
		if (cp < 0x800) {
			u[0] = (char)(0xC0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3F));
			buf_add(out, u, 2);
		} else {
			u[0] = (char)(0xE0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (char)(0x80 | (cp & 0x3F));
			buf_add(out, u, 3);
		}
	}
}

/*
 * glibc loads a gconv module on iconv_open and unloads it when its last
 * descriptor closes: per message that is a dlopen/dlclose pair under global
 * locks, which serialises worker threads. One descriptor per common charset,
 * held for the life of the process, keeps those modules resident.
 */
static const char *const pinned_names[] = {
	"KOI8-R", "KOI8-U", "ISO-2022-JP-2", "CP932", "EUC-JP", "GB18030", "CP950",
	"CP949", "ISO-8859-2", "ISO-8859-15", "WINDOWS-1250", "WINDOWS-1251", "UTF-16",
	/* the labels themselves, as GMime opens them for encoded-words */
	"SHIFT_JIS", "EUC-KR", "BIG5", "GBK", "GB2312", "ISO-2022-JP",
};
static iconv_t pinned[sizeof(pinned_names) / sizeof(pinned_names[0])];
static bool pinned_done;

void mime_charsets_pin(void)
{
	if (pinned_done)
		return;
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
		pinned[i] = iconv_open("UTF-8", pinned_names[i]);
	pinned_done = true;
}

void mime_charsets_unpin(void)
{
	if (!pinned_done)
		return;
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++)
		if (pinned[i] != (iconv_t)-1)
			iconv_close(pinned[i]);
	pinned_done = false;
}

static bool charset_is(const char *cs, const char *const *names)
{
	for (; *names; names++)
		if (strcasecmp(cs, *names) == 0)
			return true;
	return false;
}

/*
 * Labels read as the superset senders really mean (WHATWG Encoding does
 * the same): mail labelled gb2312 holds GBK, shift_jis holds Windows-31J,
 * euc-kr holds UHC, big5 holds CP950 additions, iso-8859-9 and tis-620
 * hold their Windows code pages, and glibc's ISO-2022-JP drops half-width
 * katakana escapes that ISO-2022-JP-2 reads. LENIENCY.md, rule 3.
 */
static const struct {
	const char *const *labels;
	const char *use;
} supersets[] = {
	{ (const char *const[]){ "gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936",
				 "euc-cn", "x-euc-cn", "csgb2312", "gb_2312-80", "chinese",
				 "iso-ir-58", "csiso58gb231280", NULL },
	  "GB18030" },
	{ (const char *const[]){ "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji",
				 "csshiftjis", "windows-31j", "ms932", "cp932", NULL },
	  "CP932" },
	{ (const char *const[]){ "euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601",
				 "ksc_5601", "csksc56011987", "korean", "iso-ir-149",
				 "windows-949", "cp949", "csueckr", NULL },
	  "CP949" },
	{ (const char *const[]){ "big5", "big-5", "cn-big5", "x-x-big5", "csbig5",
				 "cp950", NULL },
	  "CP950" },
	{ (const char *const[]){ "iso-2022-jp", "csiso2022jp", NULL }, "ISO-2022-JP-2" },
	{ (const char *const[]){ "iso-8859-9", "iso8859-9", "iso_8859-9", "latin5", "l5",
				 "iso-ir-148", NULL },
	  "WINDOWS-1254" },
	{ (const char *const[]){ "tis-620", "iso-8859-11", "iso8859-11", "dos-874", NULL },
	  "WINDOWS-874" },
};

static const char *charset_superset(const char *cs)
{
	for (size_t i = 0; i < sizeof(supersets) / sizeof(supersets[0]); i++)
		if (charset_is(cs, supersets[i].labels))
			return supersets[i].use;
	return cs;
}

static const char *const utf8_names[] = { "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8",
					  NULL };
static const char *const ascii_names[] = { "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us",
					   "646", NULL };
static const char *const latin1_names[] = { "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
					    "l1", "iso-ir-100", "cp819", NULL };
static const char *const cp1252_names[] = { "windows-1252", "cp1252", "x-cp1252", NULL };

bool mime_charset_known(const char *name)
{
	if (!name || !*name || strlen(name) > 64)
		return false;
	if (charset_is(name, utf8_names) || charset_is(name, ascii_names) ||
	    charset_is(name, latin1_names) || charset_is(name, cp1252_names))
		return true;
	/* plain iconv: config checks run before GMime is initialised */
	iconv_t cd = iconv_open("UTF-8", charset_superset(name));
	if (cd == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

/* Converts with one charset known to be neither UTF-8 nor ASCII. -1: unknown. */
static int convert_with(const char *use, const char *s, size_t len, size_t max, struct buf *out)
{
	if (charset_is(use, latin1_names) || charset_is(use, cp1252_names)) {
		cp1252_convert(s, len, max, out);
		return 0;
	}
	return iconv_convert(charset_superset(use), s, len, max, out);
}

char *mime_text_to_utf8(struct arena *a, const char *s, size_t len, const char *charset,
			const char *fallback, size_t max, size_t *len_r, bool *truncated_r)
{
	const char *use = charset;

	if (all_ascii(s, len) && (!charset || !*charset || charset_is(charset, ascii_names) ||
				  charset_is(charset, utf8_names) ||
				  charset_is(charset, latin1_names)))
		return mime_utf8_clean(a, s, len, true, max, len_r, truncated_r);
	if (!use || !*use || charset_is(use, ascii_names))
		use = NULL; /* undeclared, or 7-bit declared but 8-bit sent */
	else if (charset_is(use, utf8_names))
		return mime_utf8_clean(a, s, len, true, max, len_r, truncated_r);

	struct buf out;
	/* room for one iconv chunk past max, so the cut lands on max itself */
	buf_init(&out, max + 4096 + 16);
	if (!use || convert_with(use, s, len, max, &out) < 0) {
		/* undeclared, or a charset nobody knows: UTF-8 when it is, else the fallback */
		buf_reset(&out);
		if (mime_utf8_valid(s, len)) {
			buf_release(&out);
			return mime_utf8_clean(a, s, len, true, max, len_r, truncated_r);
		}
		if (!fallback || !*fallback || charset_is(fallback, utf8_names) ||
		    convert_with(fallback, s, len, max, &out) < 0) {
			buf_reset(&out);
			cp1252_convert(s, len, max, &out);
		}
	}
	bool cut = false;
	char *res = mime_utf8_clean(a, buf_str(&out), out.len, true, max, len_r, &cut);
	if (truncated_r)
		*truncated_r = cut || out.failed;
	buf_release(&out);
	return res;
}

/*
 * <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html;
 * charset=x"> near the start of an HTML part that has no charset parameter
 * (browsers look at the first 1024 bytes; we allow a little more).
 */
const char *mime_html_charset_sniff(const char *s, size_t len, char *out, size_t outlen)
{
	size_t n = len < 4096 ? len : 4096;
	for (size_t i = 0; i < n;) {
		size_t off = mime_find_ci(s + i, n - i, "<meta");
		if (off == n - i)
			return NULL;
		i += off + 5;
		size_t end = i;
		while (end < n && s[end] != '>')
			end++;
		size_t cs = mime_find_ci(s + i, end - i, "charset");
		if (cs == end - i)
			continue;
		size_t p = i + cs + 7;
		while (p < end && (s[p] == ' ' || s[p] == '='))
			p++;
		while (p < end && (s[p] == '"' || s[p] == '\''))
			p++;
		size_t k = 0;
		while (p < end && k + 1 < outlen &&
		       ((s[p] >= 'a' && s[p] <= 'z') || (s[p] >= 'A' && s[p] <= 'Z') ||
			(s[p] >= '0' && s[p] <= '9') || s[p] == '-' || s[p] == '_' || s[p] == '.' ||
			s[p] == ':'))
			out[k++] = s[p++];
		out[k] = '\0';
		return k ? out : NULL;
	}
	return NULL;
}
