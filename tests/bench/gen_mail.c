/*
 * gen_mail — writes N generated help-desk mails into a Maildir's new/
 * directory, for the benchmark and the large-mailbox tests.
 *
 *   gen_mail DIR N [SEED] [UID GID] [FROM TO]
 *
 * With FROM TO, all N are generated (the same for a seed) but only mails
 * FROM..TO-1 are written: a caller delivers the set in waves and lets the
 * server number each wave before the next, so that a reply always comes
 * after its original (a Maildir server numbers new mail in directory
 * order, not by name). A mail answers only mails at least one wave older
 * (replies come later, not within the same few minutes); a wave is a tenth
 * of the set, so the first two waves are new mail only.
 *
 * The mix is meant to look like a help desk's inbox: new requests in plain
 * text, HTML mail from Outlook and Gmail (multipart/alternative), mail with
 * PDF/PNG attachments, text in ISO-8859-1 and KOI8-R; replies (~35%) to an
 * earlier mail of the same set, from its sender, with In-Reply-To,
 * References, "Re:" and quoted history; auto-replies (~5%) to an earlier
 * mail; delivery reports (~3%) about an earlier mail. Deterministic for a
 * seed.
 *
 * Message-IDs say what a mail is, so the benchmark can check where each
 * landed: <N.new@gen.example.org>, <N.reply@...>, <N.auto@...>, <N.dsn@...>
 * (N is the mail's position). Senders are spread over N/4 addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/buf.h"
#include "engine/util/str.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: fast, good enough for a mix */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static const char *const first[] = {"Anna", "Ben", "Carla", "David", "Eva", "Frank",
				    "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas"};
static const char *const last[] = {"Schmidt", "Miller", "Garcia", "Rossi", "Dubois",
				   "Novak", "Jensen", "Kowalski", "Silva", "Tanaka"};
static const char *const topics[] = {
	"Printer on floor 3 does not print", "VPN disconnects every 10 minutes",
	"Cannot log in to the portal", "Invoice 2026-0413 is wrong",
	"Request: new laptop for onboarding", "Outlook keeps asking for the password",
	"Shared drive is read-only", "Phone extension not working",
	"Access to the sales dashboard", "E-mail bounces from customer domain"};
static const char *const sentences[] = {
	"Since this morning the problem appears again and nobody in our team can work.",
	"I already restarted the machine twice, but it did not help.",
	"Could you please have a look at it as soon as possible?",
	"The error message says that the connection was reset by the server.",
	"This affects about twenty people in the accounting department.",
	"We need this fixed before the quarterly closing on Friday.",
	"Attached you find a screenshot of the error and the log file.",
	"Thank you for your quick help last time, it worked for a week.",
	"Let me know if you need remote access to my computer.",
	"The ticket from last month was about the same device, I think."};

static void add_paragraphs(struct buf *b, int n, int html)
{
	for (int p = 0; p < n; p++) {
		buf_adds(b, html ? "<p>" : "");
		int k = 2 + (int)(rnd() % 4);
		for (int s = 0; s < k; s++) {
			buf_adds(b, sentences[rnd() % 10]);
			buf_adds(b, s + 1 < k ? " " : "");
		}
		buf_adds(b, html ? "</p>\r\n" : "\r\n\r\n");
	}
}

static void add_quote(struct buf *b, const char *who)
{
	buf_addf(b, "On Mon, 16 Nov 2026 at 09:%02u, %s <helpdesk@example.com> wrote:\r\n", rnd() % 60,
		 who);
	int lines = 6 + (int)(rnd() % 20);
	for (int i = 0; i < lines; i++) {
		buf_adds(b, "> ");
		buf_adds(b, sentences[rnd() % 10]);
		buf_adds(b, "\r\n");
	}
}

static void add_base64(struct buf *b, size_t bytes)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t chars = (bytes + 2) / 3 * 4;
	for (size_t i = 0; i < chars; i++) {
		buf_addc(b, tbl[rnd() & 63]);
		if (i % 76 == 75)
			buf_adds(b, "\r\n");
	}
	buf_adds(b, "\r\n");
}

/* What each mail of the set is, so later ones can answer it. */
enum role { ROLE_NEW, ROLE_REPLY, ROLE_AUTO, ROLE_DSN };
static const char *const role_tag[] = {"new", "reply", "auto", "dsn"};

struct made {
	uint8_t role;
	uint8_t topic;
	uint8_t first, last;
	uint32_t sender;
};

static struct made *made;
static unsigned wave;   /* mails per wave */

/* An earlier mail a reply can answer: a new request or a reply (auto-replies
 * and reports are never answered). -1 when there is none yet. */
static long pick_earlier(unsigned seq)
{
	/* mails of the waves before the previous one */
	unsigned start = seq - seq % wave;
	unsigned limit = start >= wave ? start - wave : 0;
	for (int tries = 0; limit > 0 && tries < 8; tries++) {
		unsigned j = rnd() % limit;
		if (made[j].role == ROLE_NEW || made[j].role == ROLE_REPLY)
			return (long)j;
	}
	return -1;
}

static void add_msgid(struct buf *b, unsigned seq)
{
	buf_addf(b, "<%u.%s@gen.example.org>", seq, role_tag[made[seq].role]);
}

/* A delivery report about mail `of`, sent to one of its recipients. */
static void gen_dsn(struct buf *b, unsigned seq, unsigned of)
{
	const struct made *o = &made[of];
	buf_adds(b, "Return-Path: <>\r\n");
	buf_adds(b, "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n");
	buf_adds(b, "To: Support <support@example.com>\r\n");
	buf_adds(b, "Subject: Undelivered Mail Returned to Sender\r\n");
	buf_addf(b, "Date: Mon, 16 Nov 2026 11:%02u:%02u +0100\r\n", rnd() % 60, rnd() % 60);
	buf_adds(b, "Message-ID: ");
	add_msgid(b, seq);
	buf_adds(b, "\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn-b\"\r\n\r\n"
		    "--dsn-b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
		    "This is the mail system at host mx.example.com.\r\n\r\n"
		    "I'm sorry to have to inform you that your message could not\r\n"
		    "be delivered to one or more recipients.\r\n\r\n"
		    "--dsn-b\r\nContent-Type: message/delivery-status\r\n\r\n"
		    "Reporting-MTA: dns; mx.example.com\r\n\r\n");
	buf_addf(b, "Final-Recipient: rfc822; %s.%s.%u@example.org\r\nAction: failed\r\n"
		 "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n",
		 first[o->first], last[o->last], o->sender);
	buf_adds(b, "--dsn-b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
		    "From: Support <support@example.com>\r\n");
	buf_addf(b, "To: %s.%s.%u@example.org\r\nSubject: Re: %s\r\nMessage-ID: ", first[o->first],
		 last[o->last], o->sender, topics[o->topic]);
	add_msgid(b, of);
	buf_adds(b, "\r\n\r\n--dsn-b--\r\n");
}

static void gen_one(struct buf *b, unsigned seq, unsigned n)
{
	struct made *me = &made[seq];
	unsigned kind = rnd() % 100;
	unsigned role = rnd() % 100;
	long of = pick_earlier(seq);
	me->role = of < 0 || role >= 43 ? ROLE_NEW : role < 35 ? ROLE_REPLY
					: role < 40 ? ROLE_AUTO : ROLE_DSN;
	buf_reset(b);
	if (me->role == ROLE_DSN) {
		gen_dsn(b, seq, (unsigned)of);
		return;
	}
	if (me->role == ROLE_NEW) {
		me->first = (uint8_t)(rnd() % 12);
		me->last = (uint8_t)(rnd() % 10);
		me->topic = (uint8_t)(rnd() % 10);
		me->sender = rnd() % (n / 4 + 1);
	} else {
		/* the customer answers, or the customer's autoresponder */
		me->first = made[of].first;
		me->last = made[of].last;
		me->topic = made[of].topic;
		me->sender = made[of].sender;
	}
	const char *fn = first[me->first], *ln = last[me->last];
	const char *topic = topics[me->topic];
	int reply = me->role == ROLE_REPLY;
	buf_addf(b, "Return-Path: <%s.%s.%u@example.org>\r\n", fn, ln, me->sender);
	buf_addf(b, "Received: from mail.example.org (mail.example.org [192.0.2.%u])\r\n"
		 "\tby mx.example.com with ESMTPS id %08X for <support@example.com>;\r\n"
		 "\tMon, 16 Nov 2026 10:%02u:%02u +0100\r\n", rnd() % 250, rnd(), rnd() % 60, rnd() % 60);
	buf_addf(b, "From: %s %s <%s.%s.%u@example.org>\r\n", fn, ln, fn, ln, me->sender);
	buf_adds(b, "To: Support <support@example.com>\r\n");
	buf_addf(b, "Subject: %s%s\r\n", reply ? "Re: " : me->role == ROLE_AUTO ?
		 "Automatic reply: " : "", topic);
	buf_addf(b, "Date: Mon, 16 Nov 2026 10:%02u:%02u +0100\r\n", rnd() % 60, rnd() % 60);
	buf_adds(b, "Message-ID: ");
	add_msgid(b, seq);
	buf_adds(b, "\r\n");
	if (of >= 0 && me->role != ROLE_NEW) {
		buf_adds(b, "In-Reply-To: ");
		add_msgid(b, (unsigned)of);
		buf_adds(b, "\r\nReferences: ");
		add_msgid(b, (unsigned)of);
		buf_adds(b, "\r\n");
	}
	if (me->role == ROLE_AUTO) {
		buf_adds(b, "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"
			    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
			    "I am out of the office until Monday and will read your message then.\r\n");
		return;
	}
	buf_adds(b, "MIME-Version: 1.0\r\n");
	if (reply)
		kind = 0;
	else
		kind = 40 + kind * 60 / 100;

	if (kind < 40) { /* plain reply with quote and signature */
		buf_adds(b, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
		add_paragraphs(b, 1 + (int)(rnd() % 3), 0);
		buf_addf(b, "-- \r\n%s %s\r\nExample Org, Accounting\r\n\r\n", fn, ln);
		add_quote(b, "Support");
	} else if (kind < 70) { /* HTML, multipart/alternative */
		buf_adds(b, "Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\r\n--alt-b\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		int paras = 1 + (int)(rnd() % 4);
		uint64_t save = rng_state;
		add_paragraphs(b, paras, 0);
		buf_adds(b, "--alt-b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
			    "<html><head><style>p{margin:0}</style></head><body><div class=\"WordSection1\">\r\n");
		rng_state = save;
		add_paragraphs(b, paras, 1);
		buf_adds(b, "<table><tr><td>Phone</td><td>+49 30 1234567</td></tr></table></div></body></html>\r\n--alt-b--\r\n");
	} else if (kind < 85) { /* attachment */
		buf_adds(b, "Content-Type: multipart/mixed; boundary=\"mix-b\"\r\n\r\n--mix-b\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
		add_paragraphs(b, 1 + (int)(rnd() % 2), 0);
		int pdf = rnd() % 2;
		buf_addf(b, "--mix-b\r\nContent-Type: %s; name=\"%s\"\r\n"
			    "Content-Disposition: attachment; filename=\"%s\"\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n",
			 pdf ? "application/pdf" : "image/png", pdf ? "report.pdf" : "screenshot.png",
			 pdf ? "report.pdf" : "screenshot.png");
		add_base64(b, 8000 + rnd() % 40000);
		buf_adds(b, "--mix-b--\r\n");
	} else if (kind < 93) { /* Latin-1 */
		buf_adds(b, "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
			    "Guten Tag,\r\n\r\nder Drucker im B=FCro funktioniert nicht. Bitte um R=FCckruf.\r\n\r\n");
		add_paragraphs(b, 1, 0);
		buf_adds(b, "Mit freundlichen Gr=FC=DFen\r\n");
	} else { /* KOI8-R */
		buf_adds(b, "Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
			    "\xfa\xc4\xd2\xc1\xd7\xd3\xd4\xd7\xd5\xca\xd4\xc5!\r\n\r\n");
		add_paragraphs(b, 1, 0);
	}
}

int main(int argc, char **argv)
{
	uint64_t n, seed = 1, uid = 0, gid = 0, from = 0, to = 0;
	int chown_to = 0;
	if (argc < 3 || str_parse_u64(argv[2], strlen(argv[2]), 10000000, &n) < 0) {
		fprintf(stderr, "usage: gen_mail DIR N [SEED] [UID GID] [FROM TO]\n");
		return 64;
	}
	to = n;
	if (argc >= 8 && (str_parse_u64(argv[6], strlen(argv[6]), n, &from) < 0 ||
			  str_parse_u64(argv[7], strlen(argv[7]), n, &to) < 0 || from > to))
		return 64;
	wave = n >= 10 ? (unsigned)(n / 10) : 1;
	if (argc >= 4 && str_parse_u64(argv[3], strlen(argv[3]), UINT64_MAX, &seed) < 0)
		return 64;
	if (argc >= 6) {
		if (str_parse_u64(argv[4], strlen(argv[4]), UINT32_MAX, &uid) < 0 ||
		    str_parse_u64(argv[5], strlen(argv[5]), UINT32_MAX, &gid) < 0)
			return 64;
		chown_to = 1;
	}
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	struct buf b;
	buf_init(&b, 4 * 1024 * 1024);
	uint64_t total = 0;
	made = calloc(n ? n : 1, sizeof(*made));
	if (!made) {
		fprintf(stderr, "gen_mail: out of memory\n");
		return 71;
	}
	for (uint64_t i = 0; i < n; i++) {
		gen_one(&b, (unsigned)i, (unsigned)n);
		/* drawn for every mail, written or not: a seed gives the same set */
		unsigned micro = rnd() % 1000000;
		if (i < from || i >= to)
			continue;
		char path[4096];
		/* named as a delivery agent names them: time, microseconds, pid,
		 * host, and the size Dovecot can then read without a stat() */
		snprintf(path, sizeof(path), "%s/new/%llu.M%06uP%d.bench,S=%zu", argv[1],
			 (unsigned long long)(1700000000 + i / 50), micro,
			 (int)getpid(), b.len);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			fprintf(stderr, "gen_mail: %s: %s\n", path, strerror(errno));
			return 73;
		}
		if (write(fd, b.data, b.len) != (ssize_t)b.len) {
			fprintf(stderr, "gen_mail: %s: short write\n", path);
			close(fd);
			return 74;
		}
		if (chown_to && fchown(fd, (uid_t)uid, (gid_t)gid) < 0) {
			fprintf(stderr, "gen_mail: chown %s: %s\n", path, strerror(errno));
			close(fd);
			return 73;
		}
		close(fd);
		total += b.len;
	}
	buf_release(&b);
	unsigned counts[4] = {0};
	for (uint64_t i = from; i < to; i++)
		counts[made[i].role]++;
	free(made);
	printf("%llu mails, %.1f MB: %u new, %u replies, %u auto-replies, %u delivery reports\n",
	       (unsigned long long)(to - from), (double)total / 1048576.0, counts[ROLE_NEW],
	       counts[ROLE_REPLY], counts[ROLE_AUTO], counts[ROLE_DSN]);
	return 0;
}
