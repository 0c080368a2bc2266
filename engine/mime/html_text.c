/*
 * HTML ► text with libxml2's HTML parser (see html_text.h for the shape).
 *
 * SECURITY: the HTML comes from an untrusted mail. libxml2 parses it with
 * NONET (no external fetches) and IGNORE_ENC (a <meta charset> must not
 * re-decode text we already converted to UTF-8). The tree is walked without
 * recursion, so nesting depth cannot exhaust the stack; per-element state
 * (lists, tables, links) lives in fixed stacks and deeper levels simply lose
 * their decoration. The output buffer has a hard cap and the walk stops
 * once the cap is reached.
 */
#include "engine/mime/html_text.h"

#include <limits.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"
#include "engine/util/str.h"

#define LIST_MAX 16
#define TABLE_MAX 16
#define LINK_MAX 8
#define QUOTE_MAX 16

enum tag_kind {
	TAG_INLINE = 0,
	TAG_SKIP,       /* dropped with its content */
	TAG_BLOCK,      /* own line */
	TAG_PARA,       /* own paragraph: blank line before and after */
	TAG_BR,
	TAG_HR,
	TAG_PRE,
	TAG_QUOTE,
	TAG_UL,
	TAG_OL,
	TAG_LI,
	TAG_TABLE,
	TAG_TR,
	TAG_CELL,
	TAG_A,
	TAG_IMG,
};

static const struct {
	const char *name;
	enum tag_kind kind;
} tags[] = {
	{ "a", TAG_A },         { "address", TAG_BLOCK },   { "applet", TAG_SKIP },
	{ "article", TAG_BLOCK }, { "aside", TAG_BLOCK },   { "blockquote", TAG_QUOTE },
	{ "br", TAG_BR },       { "caption", TAG_BLOCK },   { "center", TAG_BLOCK },
	{ "dd", TAG_BLOCK },    { "details", TAG_BLOCK },   { "dir", TAG_UL },
	{ "div", TAG_BLOCK },   { "dl", TAG_PARA },         { "dt", TAG_BLOCK },
	{ "embed", TAG_SKIP },  { "fieldset", TAG_BLOCK },  { "figcaption", TAG_BLOCK },
	{ "figure", TAG_BLOCK }, { "footer", TAG_BLOCK },   { "form", TAG_BLOCK },
	{ "h1", TAG_PARA },     { "h2", TAG_PARA },         { "h3", TAG_PARA },
	{ "h4", TAG_PARA },     { "h5", TAG_PARA },         { "h6", TAG_PARA },
	{ "head", TAG_SKIP },   { "header", TAG_BLOCK },    { "hr", TAG_HR },
	{ "iframe", TAG_SKIP }, { "img", TAG_IMG },         { "legend", TAG_BLOCK },
	{ "li", TAG_LI },       { "main", TAG_BLOCK },      { "math", TAG_SKIP },
	{ "menu", TAG_UL },     { "nav", TAG_BLOCK },       { "noscript", TAG_SKIP },
	{ "object", TAG_SKIP }, { "ol", TAG_OL },           { "p", TAG_PARA },
	{ "pre", TAG_PRE },     { "script", TAG_SKIP },     { "section", TAG_BLOCK },
	{ "select", TAG_SKIP }, { "style", TAG_SKIP },      { "summary", TAG_BLOCK },
	{ "svg", TAG_SKIP },    { "table", TAG_TABLE },     { "td", TAG_CELL },
	{ "template", TAG_SKIP }, { "textarea", TAG_BLOCK }, { "th", TAG_CELL },
	{ "title", TAG_SKIP },  { "tr", TAG_TR },           { "ul", TAG_UL },
	{ "xmp", TAG_PRE },     { "listing", TAG_PRE },     { "plaintext", TAG_PRE },
};

struct list_state {
	bool ordered;
	uint64_t counter;
};

struct link_state {
	xmlChar *href;
	size_t start;       /* output length when the link began */
};

struct writer {
	struct buf out;
	unsigned pending_nl;  /* line breaks owed before the next text, 0..2 */
	bool space;           /* a collapsible space owed */
	bool sep;             /* a " | " cell separator owed */
	bool line_start;
	bool started;         /* something was written: leading breaks are dropped */
	unsigned quote;       /* blockquote depth */
	unsigned gap_quote;   /* lowest quote depth while breaks were owed */
	unsigned pre;         /* <pre> depth */
	unsigned nlist, ntable, nlink;
	struct list_state list[LIST_MAX];
	unsigned cells[TABLE_MAX];
	struct link_state link[LINK_MAX];
};

static enum tag_kind tag_lookup(const xmlChar *name)
{
	if (!name)
		return TAG_INLINE;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strcmp((const char *)name, tags[i].name) == 0)
			return tags[i].kind;
	return TAG_INLINE;
}

static void quote_prefix(struct writer *w)
{
	unsigned q = w->quote < QUOTE_MAX ? w->quote : QUOTE_MAX;
	for (unsigned i = 0; i < q; i++)
		buf_add(&w->out, "> ", 2);
}

/* Settles owed breaks, spaces and separators before visible output. */
static void flush(struct writer *w)
{
	if (w->pending_nl && w->started) {
		for (unsigned i = 0; i < w->pending_nl; i++) {
			if (i > 0) {
				/* a blank line between quoted and unquoted text is not quoted */
				unsigned q = w->quote;
				w->quote = w->gap_quote;
				quote_prefix(w);
				w->quote = q;
			}
			buf_addc(&w->out, '\n');
		}
		w->line_start = true;
	}
	w->pending_nl = 0;
	if (w->line_start) {
		quote_prefix(w);
		w->line_start = false;
		w->space = false;
		w->sep = false;
	}
	if (w->sep) {
		buf_add(&w->out, " | ", 3);
		w->space = false;
		w->sep = false;
	}
	if (w->space) {
		buf_addc(&w->out, ' ');
		w->space = false;
	}
	w->started = true;
}

static void emit(struct writer *w, const char *s, size_t n)
{
	flush(w);
	buf_add(&w->out, s, n);
}

static void emit_str(struct writer *w, const char *s)
{
	emit(w, s, strlen(s));
}

static void note_gap(struct writer *w)
{
	if (w->pending_nl == 0 || w->quote < w->gap_quote)
		w->gap_quote = w->quote;
}

static void want_breaks(struct writer *w, unsigned n)
{
	note_gap(w);
	if (w->pending_nl < n)
		w->pending_nl = n;
	w->space = false;
}

static void hard_break(struct writer *w)
{
	note_gap(w);
	if (w->pending_nl < 2)
		w->pending_nl++;
	w->space = false;
}

static void text_node(struct writer *w, const xmlChar *content)
{
	const char *s = (const char *)content;
	if (!s)
		return;
	if (w->pre) {
		const char *nl;
		while ((nl = strchr(s, '\n')) != NULL) {
			if (nl > s)
				emit(w, s, (size_t)(nl - s));
			hard_break(w);
			if (w->pending_nl == 2 && !w->started)
				w->pending_nl = 0;
			s = nl + 1;
		}
		if (*s)
			emit_str(w, s);
		return;
	}
	/* collapse white space runs as a browser does */
	const char *run = NULL;
	for (const char *p = s;; p++) {
		char c = *p;
		bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
		if (c == '\0' || ws) {
			if (run) {
				emit(w, run, (size_t)(p - run));
				run = NULL;
			}
			if (c == '\0')
				break;
			w->space = true;
		} else if ((unsigned char)c == 0xC2 && (unsigned char)p[1] == 0xA0) {
			/* &nbsp; is a space that does not collapse */
			if (run) {
				emit(w, run, (size_t)(p - run));
				run = NULL;
			}
			emit(w, " ", 1);
			p++;
		} else if (!run) {
			run = p;
		}
	}
}

static char *attr_get(xmlNodePtr node, const char *name)
{
	return (char *)xmlGetProp(node, (const xmlChar *)name);
}

/* Trimmed view of s. */
static struct slice trim(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return (struct slice){ s, n };
}

static bool slice_eq(struct slice a, const char *b, size_t blen)
{
	return a.len == blen && memcmp(a.p, b, blen) == 0;
}

static void link_end(struct writer *w)
{
	struct link_state *l = &w->link[--w->nlink];
	const char *href = (const char *)l->href;
	if (!href)
		return;
	struct slice h = trim(href, strlen(href));
	bool useful = h.len && h.p[0] != '#' && !str_has_iprefix(h.p, "javascript:");
	if (useful && !w->out.failed && l->start <= w->out.len) {
		struct slice text = trim(w->out.data ? w->out.data + l->start : "",
					 w->out.len - l->start);
		struct slice bare = h;
		if (str_has_iprefix(h.p, "mailto:")) {
			bare.p += 7;
			bare.len -= 7;
		}
		if (text.len == 0) {
			emit(w, h.p, h.len);
		} else if (!slice_eq(text, h.p, h.len) && !slice_eq(text, bare.p, bare.len)) {
			bool space = w->space;
			w->space = false;
			emit(w, " <", 2);
			buf_add(&w->out, h.p, h.len);
			buf_addc(&w->out, '>');
			w->space = space;
		}
	}
	xmlFree(l->href);
	l->href = NULL;
}

/* Returns true when the children of node are to be visited. */
static bool element_enter(struct writer *w, xmlNodePtr node)
{
	char *v;
	enum tag_kind kind = tag_lookup(node->name);
	switch (kind) {
	case TAG_SKIP:
		return false;
	case TAG_INLINE:
		break;
	case TAG_BLOCK:
	case TAG_TR:
	case TAG_TABLE:
		want_breaks(w, 1);
		if (kind == TAG_TABLE) {
			if (w->ntable < TABLE_MAX)
				w->cells[w->ntable] = 0;
			w->ntable++;
		}
		if (kind == TAG_TR && w->ntable && w->ntable <= TABLE_MAX)
			w->cells[w->ntable - 1] = 0;
		break;
	case TAG_PARA:
		want_breaks(w, 2);
		break;
	case TAG_BR:
		hard_break(w);
		break;
	case TAG_HR:
		want_breaks(w, 1);
		emit_str(w, "---");
		want_breaks(w, 1);
		break;
	case TAG_PRE:
		want_breaks(w, 2);
		w->pre++;
		break;
	case TAG_QUOTE:
		want_breaks(w, 2);
		w->quote++;
		break;
	case TAG_UL:
	case TAG_OL:
		want_breaks(w, w->nlist ? 1 : 2);
		if (w->nlist < LIST_MAX) {
			struct list_state *l = &w->list[w->nlist];
			l->ordered = kind == TAG_OL;
			l->counter = 1;
			if (l->ordered && (v = attr_get(node, "start")) != NULL) {
				uint64_t n;
				if (str_parse_u64(v, strlen(v), 1000000, &n) == 0)
					l->counter = n;
				xmlFree(v);
			}
		}
		w->nlist++;
		break;
	case TAG_LI: {
		want_breaks(w, 1);
		unsigned depth = w->nlist ? w->nlist : 1;
		if (depth > LIST_MAX)
			depth = LIST_MAX;
		flush(w);
		for (unsigned i = 1; i < depth; i++)
			buf_add(&w->out, "  ", 2);
		if (w->nlist && w->nlist <= LIST_MAX && w->list[w->nlist - 1].ordered) {
			buf_addf(&w->out, "%llu. ",
				 (unsigned long long)w->list[w->nlist - 1].counter++);
		} else {
			buf_add(&w->out, "- ", 2);
		}
		w->space = false;
		break;
	}
	case TAG_CELL:
		if (w->ntable && w->ntable <= TABLE_MAX && w->cells[w->ntable - 1]++ > 0)
			w->sep = true;
		w->space = false;
		break;
	case TAG_A:
		if (w->nlink < LINK_MAX) {
			flush(w);
			w->link[w->nlink].href = xmlGetProp(node, (const xmlChar *)"href");
			w->link[w->nlink].start = w->out.len;
		}
		w->nlink++;
		break;
	case TAG_IMG:
		if ((v = attr_get(node, "alt")) != NULL) {
			struct slice alt = trim(v, strlen(v));
			if (alt.len) {
				emit(w, "[", 1);
				buf_add(&w->out, alt.p, alt.len);
				buf_addc(&w->out, ']');
			}
			xmlFree(v);
		}
		break;
	}
	return true;
}

static void element_leave(struct writer *w, xmlNodePtr node)
{
	switch (tag_lookup(node->name)) {
	case TAG_SKIP:
	case TAG_INLINE:
	case TAG_BR:
	case TAG_HR:
	case TAG_IMG:
	case TAG_CELL:
		break;
	case TAG_BLOCK:
	case TAG_TR:
	case TAG_LI:
		want_breaks(w, 1);
		break;
	case TAG_TABLE:
		want_breaks(w, 1);
		if (w->ntable)
			w->ntable--;
		break;
	case TAG_PARA:
		want_breaks(w, 2);
		break;
	case TAG_PRE:
		want_breaks(w, 2);
		if (w->pre)
			w->pre--;
		break;
	case TAG_QUOTE:
		want_breaks(w, 2);
		if (w->quote)
			w->quote--;
		note_gap(w);
		break;
	case TAG_UL:
	case TAG_OL:
		if (w->nlist)
			w->nlist--;
		want_breaks(w, w->nlist ? 1 : 2);
		break;
	case TAG_A:
		if (w->nlink > LINK_MAX)
			w->nlink--;
		else if (w->nlink)
			link_end(w);
		break;
	}
}

static bool node_enter(struct writer *w, xmlNodePtr node)
{
	switch (node->type) {
	case XML_ELEMENT_NODE:
		return element_enter(w, node);
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		text_node(w, node->content);
		return false;
	default:
		return false;
	}
}

static void tree_walk(struct writer *w, xmlDocPtr doc)
{
	xmlNodePtr cur = doc->children;
	while (cur && !w->out.failed) {
		bool descend = node_enter(w, cur);
		if (descend && cur->children) {
			cur = cur->children;
			continue;
		}
		if (descend && cur->type == XML_ELEMENT_NODE)
			element_leave(w, cur);
		while (cur && !cur->next) {
			cur = cur->parent;
			if (!cur || cur == (xmlNodePtr)doc)
				return;
			if (cur->type == XML_ELEMENT_NODE)
				element_leave(w, cur);
		}
		if (cur)
			cur = cur->next;
	}
}

/*
 * Final tidy-up: no trailing blanks on a line, at most one blank line in a
 * row, none at the start or the end.
 */
static void text_tidy(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	unsigned blank = 0;
	bool any = false;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n;
		size_t e = end;
		while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
			e--;
		if (e == i) {
			blank++;
		} else {
			if (any)
				buf_add(out, blank ? "\n\n" : "\n", blank ? 2 : 1);
			buf_add(out, s + i, e - i);
			any = true;
			blank = 0;
		}
		i = end + 1;
	}
}

const char *html_text_convert(struct arena *a, const char *html, size_t len, size_t max_len,
			      size_t *len_r, bool *truncated_r)
{
	struct writer w;
	struct buf tidy;
	bool cut = false;
	const char *res;

	memset(&w, 0, sizeof(w));
	w.line_start = true;
	if (len > INT_MAX)
		len = INT_MAX;
	if (!mime_utf8_valid(html, len))
		html = mime_utf8_clean(a, html, len, false, len * 3, &len, NULL);

	/* the cap leaves room to see that the text went past max_len */
	buf_init(&w.out, max_len + 64);
	buf_init(&tidy, max_len + 64);
	htmlDocPtr doc = NULL;
	if (len > 0)
		doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
				     HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					     HTML_PARSE_NONET | HTML_PARSE_NODEFDTD |
					     HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
	if (doc) {
		tree_walk(&w, doc);
		while (w.nlink) {
			if (w.nlink <= LINK_MAX) {
				xmlFree(w.link[w.nlink - 1].href);
				w.link[w.nlink - 1].href = NULL;
			}
			w.nlink--;
		}
		xmlFreeDoc(doc);
	}
	text_tidy(buf_str(&w.out), w.out.len, &tidy);
	res = mime_utf8_clean(a, buf_str(&tidy), tidy.len, true, max_len, len_r, &cut);
	if (truncated_r)
		*truncated_r = cut || w.out.failed || tidy.failed;
	buf_release(&w.out);
	buf_release(&tidy);
	return res;
}
