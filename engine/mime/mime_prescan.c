/*
 * Limits checked on the raw bytes before GMime sees them.
 *
 * SECURITY: GMime has no caps of its own (measured: 100,000 parts cost
 * ~200 MB, a 20 MB header ~105 MB). This pass reads the untrusted bytes
 * once or twice, allocates nothing, and refuses a mail whose top-level
 * header block is over the limit or whose part count could be far over it,
 * so a hostile mail costs a scan, not GMime's memory. The estimate is an
 * upper bound; mime.c checks the exact count on GMime's tree afterwards.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "engine/mime/mime_internal.h"
#include "engine/util/str.h"

/* Distinct boundaries tracked before every "--" line counts as one. */
#define PRESCAN_BOUNDARIES 64

size_t mime_find_ci(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	for (size_t i = 0; i + l <= n; i++)
		if ((p[i] | 0x20) == (lit[0] | 0x20) && strncasecmp(p + i, lit, l) == 0)
			return i;
	return n;
}

/*
 * Size of the top-level header block (up to the first empty line), or
 * len when there is none. Stops looking once the limit is passed.
 */
static size_t header_block_size(const char *raw, size_t len, uint64_t max)
{
	size_t i = 0;
	while (i < len) {
		if (raw[i] == '\n' || (raw[i] == '\r' && i + 1 < len && raw[i + 1] == '\n'))
			return i;
		if (i > max)
			return i;
		const char *nl = memchr(raw + i, '\n', len - i);
		if (!nl)
			return len;
		i = (size_t)(nl - raw) + 1;
	}
	return len;
}

struct boundary_set {
	struct slice v[PRESCAN_BOUNDARIES];
	size_t n;
	bool fuzzy; /* a boundary we could not read exactly: count every "--" line */
};

/* Reads the value after "boundary" at p[0..n) into the set. */
static void boundary_collect(const char *p, size_t n, struct boundary_set *bs)
{
	size_t i = 0;
	if (i < n && p[i] == '*') {
		bs->fuzzy = true; /* RFC 2231 encoded or split */
		return;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i] != '=')
		return;
	i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	size_t start, end;
	if (i < n && p[i] == '"') {
		start = ++i;
		while (i < n && p[i] != '"' && p[i] != '\\')
			i++;
		if (i >= n || p[i] != '"') {
			bs->fuzzy = true; /* escaped or folded: GMime may read it differently */
			return;
		}
		end = i;
	} else {
		start = i;
		while (i < n && p[i] != ';' && p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		       p[i] != '\n' && p[i] != '(')
			i++;
		end = i;
	}
	if (end == start || end - start > 200 || mime_find_ci(p + start, end - start, "=?") <
							   end - start) {
		bs->fuzzy = true;
		return;
	}
	struct slice s = { p + start, end - start };
	for (size_t k = 0; k < bs->n; k++)
		if (bs->v[k].len == s.len && memcmp(bs->v[k].p, s.p, s.len) == 0)
			return;
	if (bs->n == PRESCAN_BOUNDARIES) {
		bs->fuzzy = true;
		return;
	}
	bs->v[bs->n++] = s;
}

static bool line_is_opening_delimiter(const char *p, size_t n, const struct boundary_set *bs)
{
	if (bs->fuzzy)
		return true;
	for (size_t k = 0; k < bs->n; k++) {
		size_t bl = bs->v[k].len;
		if (n >= 2 + bl && memcmp(p + 2, bs->v[k].p, bl) == 0)
			return !(n >= 4 + bl && p[2 + bl] == '-' && p[3 + bl] == '-');
	}
	return false;
}

/*
 * An upper bound on the parts GMime will build: each part but the first
 * starts at a boundary line, and each message/ part adds its body. The
 * common case needs one pass; boundaries are matched only when the crude
 * count of "--" lines is already too high.
 */
static size_t parts_estimate(const char *raw, size_t len, size_t guard)
{
	size_t dashes = 0, messages = 0;
	bool digest = false;
	const char *p = raw, *end = raw + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		/*
		 * Content types sit in header lines ("Content-Type: ...") or their
		 * continuations; looking only there keeps base64 bodies cheap.
		 */
		bool header_like = n > 8 && (p[0] == 'C' || p[0] == 'c' || p[0] == ' ' ||
					     p[0] == '\t');
		if (n >= 2 && p[0] == '-' && p[1] == '-') {
			dashes++;
		} else if (header_like && mime_find_ci(p, n, "message/") < n) {
			messages++;
		} else if (header_like && !digest && mime_find_ci(p, n, "multipart/digest") < n) {
			digest = true;
		}
		p += n + 1;
	}
	/* digest children are message/rfc822 without saying so: two parts each */
	size_t per = digest ? 2 : 1;
	size_t est = 1 + per * dashes + messages;
	if (est <= guard)
		return est;

	struct boundary_set bs;
	bs.n = 0;
	bs.fuzzy = false;
	for (p = raw; p < end && !bs.fuzzy;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t at = 0;
		while (at < n && !bs.fuzzy) {
			size_t off = mime_find_ci(p + at, n - at, "boundary");
			if (off == n - at)
				break;
			at += off + 8;
			boundary_collect(p + at, n - at, &bs);
		}
		p += n + 1;
	}
	if (bs.fuzzy)
		return est;
	size_t delims = 0;
	for (p = raw; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n >= 2 && p[0] == '-' && p[1] == '-' && line_is_opening_delimiter(p, n, &bs))
			delims++;
		p += n + 1;
	}
	return 1 + per * delims + messages;
}

int mime_prescan(const char *raw, size_t len, const struct mime_limits *lim,
		       struct err *err)
{
	size_t hb = header_block_size(raw, len, lim->max_header_bytes);
	if (hb > lim->max_header_bytes)
		return err_set(err, ERR_MESSAGE, "mime: header block exceeds the limit of %llu bytes",
			       (unsigned long long)lim->max_header_bytes);
	/* twice the limit plus slack: only a memory guard, the exact count follows */
	size_t guard = 2 * (size_t)lim->max_parts + 16;
	size_t est = parts_estimate(raw, len, guard);
	if (est > guard)
		return err_set(err, ERR_MESSAGE, "mime: about %zu parts exceed the limit of %u", est,
			       lim->max_parts);
	return 0;
}
