/*
 * Which mail client wrote a message, as one id (the list is in message.h).
 * Rule packs key on it, so a wrong guess costs a wrong pack: the table goes
 * from the most telling signal to the least, and the first match wins.
 *
 *   1. X-Mailer and User-Agent: the client names itself.
 *   2. Message-ID shapes that only one service makes.
 *   3. HTML markers: class and id names a client writes into its own
 *      quoting and signature markup (gmail_quote, divRplyFwdMsg, ...).
 *   4. Thread-Index alone: some Microsoft client through Exchange.
 *
 * SECURITY: reads header values and HTML from an untrusted mail. Header
 * values are compared in place; the HTML is scanned once, at most
 * HTML_SCAN_MAX bytes, without allocating.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "engine/mime/mime_internal.h"

/* The markers sit in the reply's own markup; past this much HTML we stop. */
#define HTML_SCAN_MAX (512 * 1024)
/* Longest attribute value looked at (class lists are short). */
#define ATTR_VALUE_MAX 256

enum signal {
	SIG_X_MAILER,     /* substring of X-Mailer, case-insensitive */
	SIG_USER_AGENT,   /* substring of User-Agent, case-insensitive */
	SIG_MSGID,        /* substring of the Message-ID, case-insensitive */
	SIG_HTML_TOKEN,   /* a class or id value (one token of it) starting with this */
	SIG_HTML_XMLNS,   /* an xmlns attribute value containing this */
	SIG_HEADER,       /* a header with this name is present */
};

struct client_rule {
	enum signal sig;
	const char *needle;
	const char *client;
};

/*
 * Order matters: specific before general ("iPhone Mail" before "Mail",
 * "Outlook-iOS" before "Outlook"), names before shapes before markup.
 */
static const struct client_rule rules[] = {
	/* 1. the client names itself */
	{ SIG_X_MAILER, "iPhone Mail", "ios-mail" },
	{ SIG_X_MAILER, "iPad Mail", "ios-mail" },
	{ SIG_X_MAILER, "Apple Mail", "apple-mail" },
	{ SIG_X_MAILER, "Outlook-iOS", "outlook-mobile" },
	{ SIG_X_MAILER, "Outlook-Android", "outlook-mobile" },
	{ SIG_X_MAILER, "Microsoft Outlook", "outlook" },
	{ SIG_X_MAILER, "Microsoft Office Outlook", "outlook" },
	{ SIG_X_MAILER, "Microsoft Windows Live Mail", "outlook" },
	{ SIG_X_MAILER, "Lotus Notes", "lotus-notes" },
	{ SIG_X_MAILER, "IBM Notes", "lotus-notes" },
	{ SIG_X_MAILER, "HCL Notes", "lotus-notes" },
	{ SIG_X_MAILER, "GroupWise", "groupwise" },
	{ SIG_X_MAILER, "Zimbra", "zimbra" },
	{ SIG_X_MAILER, "Evolution", "evolution" },
	{ SIG_X_MAILER, "YahooMail", "yahoo" },
	{ SIG_X_MAILER, "YMail", "yahoo" },
	{ SIG_X_MAILER, "Roundcube", "roundcube" },
	{ SIG_X_MAILER, "K-9 Mail", "k9" },
	{ SIG_X_MAILER, "Samsung", "samsung" },
	{ SIG_X_MAILER, "Thunderbird", "thunderbird" },
	{ SIG_X_MAILER, "Microsoft Exchange", "exchange" },
	{ SIG_USER_AGENT, "Microsoft-MacOutlook", "outlook" },
	{ SIG_USER_AGENT, "Outlook-iOS", "outlook-mobile" },
	{ SIG_USER_AGENT, "Outlook-Android", "outlook-mobile" },
	{ SIG_USER_AGENT, "Thunderbird", "thunderbird" },
	{ SIG_USER_AGENT, "Roundcube", "roundcube" },
	{ SIG_USER_AGENT, "K-9 Mail", "k9" },
	{ SIG_USER_AGENT, "Evolution", "evolution" },
	{ SIG_USER_AGENT, "Zimbra", "zimbra" },
	{ SIG_USER_AGENT, "Mutt", NULL }, /* known, but no pack: stop guessing */
	{ SIG_USER_AGENT, "SeaMonkey", "thunderbird" },
	{ SIG_USER_AGENT, "Samsung", "samsung" },
	{ SIG_USER_AGENT, "Android", "android" },

	/* 2. Message-ID shapes */
	{ SIG_MSGID, "@mail.gmail.com", "gmail" },
	{ SIG_MSGID, "@mail.yahoo.com", "yahoo" },
	{ SIG_MSGID, "@email.android.com", "android" },
	{ SIG_MSGID, "@notes.", "lotus-notes" },

	/* 3. HTML markers */
	{ SIG_HTML_TOKEN, "ms-outlook-mobile", "outlook-mobile" },
	{ SIG_HTML_TOKEN, "WordSection1", "outlook" },
	{ SIG_HTML_TOKEN, "OLK_SRC_BODY_SECTION", "outlook" },
	{ SIG_HTML_XMLNS, "schemas-microsoft-com:office", "outlook" },
	{ SIG_HTML_TOKEN, "divRplyFwdMsg", "outlook-web" },
	{ SIG_HTML_TOKEN, "appendonsend", "outlook-web" },
	{ SIG_HTML_TOKEN, "gmail_quote", "gmail" },
	{ SIG_HTML_TOKEN, "gmail_signature", "gmail" },
	{ SIG_HTML_TOKEN, "gmail_attr", "gmail" },
	{ SIG_HTML_TOKEN, "AppleMailSignature", "ios-mail" },
	{ SIG_HTML_TOKEN, "Apple-interchange-newline", "apple-mail" },
	{ SIG_HTML_TOKEN, "moz-cite-prefix", "thunderbird" },
	{ SIG_HTML_TOKEN, "moz-signature", "thunderbird" },
	{ SIG_HTML_TOKEN, "yahoo_quoted", "yahoo" },
	{ SIG_HTML_TOKEN, "ydp", "yahoo" },
	{ SIG_HTML_TOKEN, "zwchr", "zimbra" },
	{ SIG_HTML_TOKEN, "composer_signature", "samsung" },
	{ SIG_HTML_TOKEN, "-x-evo-", "evolution" },

	/* 4. Exchange stamps this on every Microsoft client's mail */
	{ SIG_HEADER, "Thread-Index", "exchange" },
};
#define NRULES (sizeof(rules) / sizeof(rules[0]))

static bool contains_ci(const char *hay, const char *needle)
{
	size_t hn = strlen(hay);
	return mime_find_ci(hay, hn, needle) < hn;
}

/* Token-wise prefix match of an attribute value against the HTML rules. */
static void html_value_match(const char *v, size_t n, bool xmlns, size_t *best)
{
	for (size_t r = 0; r < *best; r++) {
		if (xmlns) {
			if (rules[r].sig == SIG_HTML_XMLNS && mime_find_ci(v, n, rules[r].needle) < n)
				*best = r;
			continue;
		}
		if (rules[r].sig != SIG_HTML_TOKEN)
			continue;
		size_t nl = strlen(rules[r].needle);
		for (size_t i = 0; i < n;) {
			while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n'))
				i++;
			size_t s = i;
			while (i < n && v[i] != ' ' && v[i] != '\t' && v[i] != '\n')
				i++;
			if (i - s >= nl && memcmp(v + s, rules[r].needle, nl) == 0) {
				*best = r;
				break;
			}
		}
	}
}

static bool name_is(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && strncasecmp(p, lit, n) == 0;
}

/*
 * One pass over the HTML: for each attribute "name=value" whose name is
 * class, id or xmlns*, the value is compared with the HTML rules. Returns
 * the index of the best (earliest) rule matched, NRULES when none.
 */
static size_t html_scan(const char *h, size_t len)
{
	size_t best = NRULES;
	if (len > HTML_SCAN_MAX)
		len = HTML_SCAN_MAX;
	for (const char *p = h, *end = h + len; p < end;) {
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			break;
		p = eq + 1;
		/* the attribute name just before '=' */
		const char *ne = eq;
		while (ne > h && (ne[-1] == ' ' || ne[-1] == '\t'))
			ne--;
		const char *ns = ne;
		while (ns > h && ne - ns < 16 &&
		       ((ns[-1] >= 'a' && ns[-1] <= 'z') || (ns[-1] >= 'A' && ns[-1] <= 'Z') ||
			ns[-1] == ':'))
			ns--;
		size_t nn = (size_t)(ne - ns);
		bool xmlns = nn >= 5 && strncasecmp(ns, "xmlns", 5) == 0;
		if (!xmlns && !name_is(ns, nn, "class") && !name_is(ns, nn, "id"))
			continue;
		const char *v;
		size_t vn = mime_html_attr_value(eq, end, ATTR_VALUE_MAX, &v);
		html_value_match(v, vn, xmlns, &best);
		p = v + vn;
		if (best == 0)
			break;
	}
	return best;
}

const char *mime_client_detect(const struct message *msg)
{
	const char *xm = message_header(msg, "X-Mailer");
	const char *ua = message_header(msg, "User-Agent");
	const char *mid = msg->message_id;
	bool html_done = false;
	size_t html_best = NRULES;

	for (size_t r = 0; r < NRULES; r++) {
		const struct client_rule *cr = &rules[r];
		switch (cr->sig) {
		case SIG_X_MAILER:
			if (xm && contains_ci(xm, cr->needle))
				return cr->client;
			break;
		case SIG_USER_AGENT:
			if (ua && contains_ci(ua, cr->needle))
				return cr->client;
			break;
		case SIG_MSGID:
			if (mid && contains_ci(mid, cr->needle))
				return cr->client;
			break;
		case SIG_HTML_TOKEN:
		case SIG_HTML_XMLNS:
			if (!html_done) {
				html_done = true;
				if (msg->html)
					html_best = html_scan(msg->html, msg->html_len);
			}
			if (html_best == r)
				return cr->client;
			break;
		case SIG_HEADER:
			if (message_header(msg, cr->needle))
				return cr->client;
			break;
		}
	}
	return NULL;
}
