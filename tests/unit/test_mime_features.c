/*
 * engine/mime: format=flowed, attach_html, inline images, attached
 * messages, delivery status notifications and the detected mail client,
 * each on sample mails of tests/mail with exact expected values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/buf.h"
#include "tests/unit/mail_load.h"
#include "tests/unit/test.h"

static void parse(struct parsed *p, const char *name)
{
	struct mime_options opt;
	mime_options_default(&opt);
	parse_opt(p, name, &opt);
}

TEST(flowed_delsp)
{
	struct parsed p;
	parse(&p, "flowed_delsp.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_STR(p.m->text,
			  "The printer on the third floor prints every page twice, and the display "
			  "shows error E-204 since this morning.\n"
			  "From the log:\n"
			  " indented line\n"
			  "\n"
			  "On 04.06.2024 17:02, Support wrote:\n"
			  "> We have restarted the print server. Please try again and tell us whether "
			  "the problem persists.\n"
			  ">> Original report: it prints twice.\n"
			  "\n"
			  "-- \n"
			  "Anna Berg\n"
			  "Facilities\n");
	parsed_free(&p);
	parse(&p, "flowed_plain.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) /* without DelSp the space stays; charset and QP first */
		CHECK_STR(p.m->text, "Der Drucker im Büro druckt nicht mehr. Bitte prüfen. \n");
	parsed_free(&p);
}

TEST(flowed_decoder)
{
	struct arena *a = arena_new();
	size_t n;
	bool cut;
	/* a quote depth change ends a paragraph even after a soft break */
	const char *in = "> a \n>> b \nc \nd\n";
	CHECK_STR(mime_flowed_decode(a, in, strlen(in), false, 100, &n, &cut), "> a \n>> b \nc d\n");
	/* the signature separator is never a soft break */
	in = "x\n-- \nsig\n";
	CHECK_STR(mime_flowed_decode(a, in, strlen(in), true, 100, &n, &cut), "x\n-- \nsig\n");
	/* a flowed last line without a final newline */
	in = "one \ntwo ";
	CHECK_STR(mime_flowed_decode(a, in, strlen(in), true, 100, &n, &cut), "onetwo");
	CHECK(!cut);
	/* the cap holds, on a character boundary */
	in = "äöü \näöü\n";
	const char *s = mime_flowed_decode(a, in, strlen(in), false, 8, &n, &cut);
	CHECK(cut);
	CHECK_STR(s, "äöü ");
	CHECK_INT(n, 7);
	arena_free(&a);
}

TEST(attach_html)
{
	struct mime_options opt;
	struct parsed p;
	mime_options_default(&opt);
	opt.attach_html = true;
	parse_opt(&p, "alternative.eml", &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			struct attachment *at = &p.m->attachments[0];
			CHECK_STR(at->filename, "message.html");
			CHECK_STR(at->content_type, "text/html");
			CHECK(!at->is_inline);
			CHECK_INT(at->size, p.m->html_len);
			CHECK(memcmp(at->data, p.m->html, at->size) == 0);
			char h[65];
			mime_sha256_hex(p.m->html, p.m->html_len, h);
			CHECK_STR(at->sha256, h);
		}
	}
	parsed_free(&p);
	/* off by default; a text-only mail gets nothing either way */
	parse(&p, "alternative.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_INT(p.m->nattachments, 0);
	parsed_free(&p);
	parse_opt(&p, "latin1_body.eml", &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_INT(p.m->nattachments, 0);
	parsed_free(&p);
}

TEST(outlook_inline_images)
{
	struct parsed p;
	parse(&p, "outlook_image001.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK_STR(m->client, "outlook");
		CHECK_STR(m->text, "Hallo,\n\nhier ein Foto:\n\n[Foto Monitor]\n\n[Logo]\n\nGruß\nKlaus");
		CHECK_INT(m->nattachments, 3);
		if (m->nattachments == 3) {
			/* bare "image001.png": linked by file name, given a content id */
			CHECK_STR(m->attachments[0].filename, "image001.png");
			CHECK(m->attachments[0].is_inline);
			CHECK_STR(m->attachments[0].content_id, "image001.png");
			CHECK_STR(m->attachments[1].content_id, "image002.jpg@01DAB80A.1C2D3E40");
			CHECK(m->attachments[1].is_inline);
			CHECK_STR(m->attachments[2].filename, "Lieferschein.pdf");
			CHECK(!m->attachments[2].is_inline);
		}
		/* every image in the HTML resolves as cid: */
		CHECK(m->html && strstr(m->html, "src=\"cid:image001.png\" alt=\"Foto Monitor\""));
		CHECK(m->html && strstr(m->html, "src=\"cid:image002.jpg@01DAB80A.1C2D3E40\""));
		CHECK(m->html && !strstr(m->html, "\"image001.png\""));
		CHECK(text_ok(m->html, m->html_len));
	}
	parsed_free(&p);
	/* the cid-only sample still works as before */
	parse(&p, "inline_cid.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0 && p.m->nattachments == 1)
		CHECK(p.m->attachments[0].is_inline);
	parsed_free(&p);
}

TEST(attached_messages_with_text)
{
	struct parsed p;
	parse(&p, "forward_rfc822.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK_STR(m->text, "Bitte kümmern Sie sich darum, siehe Anhang.\n");
		CHECK_STR(m->client, "apple-mail");
		CHECK_INT(m->nattachments, 1);
		if (m->nattachments == 1) {
			CHECK_STR(m->attachments[0].filename, "Rechnung 4711 falsch.eml");
			CHECK_STR(m->attachments[0].content_type, "message/rfc822");
		}
		CHECK_INT(m->nattached, 2);
		if (m->nattached == 2) {
			struct attached_message *a = m->attached;
			CHECK_INT(a[0].depth, 1);
			CHECK_INT(a[0].attachment, 0);
			CHECK_STR(a[0].subject, "Rechnung 4711 falsch");
			CHECK_STR(a[0].from.name, "Kunde Müller");
			CHECK_STR(a[0].from.email, "mueller@example.net");
			CHECK_STR(a[0].message_id, "fwd-inner-1@example.net");
			CHECK_INT(a[0].date, 1717683600);
			/* HTML-only, Latin-1: converted and turned into text */
			CHECK_STR(a[0].text, "Die Rechnung 4711 weist 19 % statt 7 % aus. Grüße");
			CHECK_INT(a[0].text_len, strlen(a[0].text));
			/* nested one level deeper, still held by the same .eml */
			CHECK_INT(a[1].depth, 2);
			CHECK_INT(a[1].attachment, 0);
			CHECK_STR(a[1].subject, "Rechnung 4711");
			CHECK_STR(a[1].message_id, "invoice-4711@example.at");
			CHECK_STR(a[1].text, "Anbei Ihre Rechnung 4711.\n");
		}
		CHECK(!m->is_dsn);
	}
	parsed_free(&p);
}

/* Attached messages nested deeper than the cap are kept, but not listed. */
TEST(attached_depth_and_text_budget)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_adds(&b, "From: a@example.com\nSubject: outer\nMIME-Version: 1.0\n");
	for (int i = 0; i < 6; i++)
		buf_addf(&b, "Content-Type: message/rfc822\n\nSubject: level %d\n", i + 1);
	buf_adds(&b, "Content-Type: text/plain\n\n");
	for (int i = 0; i < 300; i++)
		buf_adds(&b, "0123456789");
	buf_adds(&b, "\n");
	struct mime_options opt;
	mime_options_default(&opt);
	opt.limits.max_text_bytes = 1000;
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	CHECK_INT(mime_parse(b.data, b.len, &opt, a, &m, &err), 0);
	if (m) {
		CHECK_INT(m->nattached, MIME_ATTACHED_DEPTH_MAX);
		for (size_t i = 0; i < m->nattached; i++) {
			CHECK_INT(m->attached[i].depth, i + 1);
			CHECK(text_ok(m->attached[i].text, m->attached[i].text_len));
		}
		CHECK_STR(m->attached[0].subject, "level 1");
		CHECK_STR(m->attached[2].subject, "level 3");
		CHECK_INT(m->nattachments, 1);
	}
	arena_reset(a);
	/* many attached messages share one text budget */
	buf_reset(&b);
	buf_adds(&b, "From: a@example.com\nSubject: many\nContent-Type: multipart/mixed; "
		     "boundary=m\n\n");
	for (int i = 0; i < 20; i++) {
		buf_addf(&b, "--m\nContent-Type: message/rfc822\n\nSubject: n%d\n\n", i);
		for (int k = 0; k < 20; k++)
			buf_adds(&b, "0123456789");
		buf_adds(&b, "\n");
	}
	buf_adds(&b, "--m--\n");
	CHECK_INT(mime_parse(b.data, b.len, &opt, a, &m, &err), 0);
	if (m) {
		size_t total = 0;
		for (size_t i = 0; i < m->nattached; i++)
			total += m->attached[i].text_len;
		CHECK_INT(m->nattached, 20);
		CHECK(total <= 1000);
		CHECK(total >= 990);
		CHECK(m->truncated);
	}
	arena_free(&a);
	buf_release(&b);
}

TEST(dsn_postfix)
{
	struct parsed p;
	parse(&p, "dsn_postfix.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK(m->is_dsn);
		CHECK_STR(m->dsn_original_message_id,
			  "ticket-2024060310000012.1717403999@example.org");
		CHECK_STR(m->dsn_recipient, "nobody@example.net");
		CHECK_STR(m->dsn_status, "5.1.1");
		CHECK_STR(m->dsn_action, "failed");
		CHECK(strncmp(m->text, "This is the mail system at host mail.example.org.", 49) == 0);
		/* the returned mail is an attachment and its text is there too */
		CHECK_INT(m->nattached, 1);
		if (m->nattached == 1)
			CHECK_STR(m->attached[0].text, "Guten Tag, wir haben Ihre Anfrage erhalten.\n");
		CHECK_INT(m->nattachments, 2);
		if (m->nattachments == 2)
			CHECK_STR(m->attachments[0].content_type, "message/delivery-status");
	}
	parsed_free(&p);
}

TEST(dsn_exchange)
{
	struct parsed p;
	parse(&p, "dsn_exchange.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK(m->is_dsn);
		/* from text/rfc822-headers, the id folded onto its own line */
		CHECK_STR(m->dsn_original_message_id,
			  "ticket-2024060410000031.1717485150@example.org");
		/* the failed recipient, not the first (delivered) one */
		CHECK_STR(m->dsn_recipient, "j.doe@example.com");
		CHECK_STR(m->dsn_status, "5.1.10");
		CHECK_STR(m->dsn_action, "failed");
		CHECK_STR(m->client, "exchange");
		CHECK_INT(m->nattached, 0);
	}
	parsed_free(&p);
	/* an ordinary mail is no report */
	parse(&p, "alternative.eml");
	if (p.rc == 0) {
		CHECK(!p.m->is_dsn);
		CHECK(p.m->dsn_original_message_id == NULL);
		CHECK(p.m->dsn_status == NULL);
	}
	parsed_free(&p);
}

TEST(dsn_fields_edge_cases)
{
	struct arena *a = arena_new();
	struct message m;
	memset(&m, 0, sizeof(m));
	/* no trailing newline, upper-case action, an Original-Message-ID field */
	const char *s = "Reporting-MTA: dns; mx\nOriginal-Message-ID: <orig@example.org>\n\n"
			"Final-Recipient: RFC822; <a@example.com>\nAction: Delayed\nStatus: 4.4.7";
	mime_dsn_fields(a, s, strlen(s), &m);
	CHECK_STR(m.dsn_recipient, "a@example.com");
	CHECK_STR(m.dsn_action, "delayed");
	CHECK_STR(m.dsn_status, "4.4.7");
	CHECK_STR(m.dsn_original_message_id, "orig@example.org");
	memset(&m, 0, sizeof(m));
	mime_dsn_fields(a, "garbage without fields", 22, &m);
	CHECK(m.dsn_recipient == NULL && m.dsn_status == NULL && m.dsn_action == NULL);
	CHECK(mime_dsn_header_msgid(a, "Subject: x\n\nMessage-ID: <late@x>\n", 33) == NULL);
	arena_free(&a);
}

struct client_case {
	const char *headers; /* extra header lines, each ending in \n */
	const char *html;    /* NULL: a text/plain mail */
	const char *want;    /* NULL: unknown */
};

static const struct client_case client_cases[] = {
	{ "X-Mailer: Microsoft Outlook 16.0\n", NULL, "outlook" },
	{ "X-Mailer: iPhone Mail (21F90)\n", NULL, "ios-mail" },
	{ "X-Mailer: Apple Mail (2.3774.600.62)\n", NULL, "apple-mail" },
	{ "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 "
	  "Thunderbird/115.11.0\n", NULL, "thunderbird" },
	{ "User-Agent: Roundcube Webmail/1.6.6\n", NULL, "roundcube" },
	{ "X-Mailer: Zimbra 9.0.0_GA_4546 (ZimbraWebClient - FF126 (Linux)/9.0.0_GA_4546)\n",
	  NULL, "zimbra" },
	{ "X-Mailer: Lotus Notes Release 8.5.3FP6 November 21, 2013\n", NULL, "lotus-notes" },
	{ "X-Mailer: GroupWise Internet Agent 18.4.1\n", NULL, "groupwise" },
	{ "X-Mailer: Evolution 3.46.4-2\n", NULL, "evolution" },
	{ "User-Agent: K-9 Mail for Android\n", NULL, "k9" },
	{ "X-Mailer: WebService/1.1.22256 YMailNorrin\n", NULL, "yahoo" },
	{ "User-Agent: Mutt/2.2.9 (2022-11-12)\n", NULL, NULL },
	{ "Message-ID: <CAF=abc+DEF@mail.gmail.com>\n", NULL, "gmail" },
	{ "Message-ID: <1234.5678.1717400000000@mail.yahoo.com>\n", NULL, "yahoo" },
	{ "", "<div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">On Mon</div></div>",
	  "gmail" },
	{ "", "<div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> x</div>", "outlook-web" },
	/* desktop Outlook's markup wins over the reply separator both write */
	{ "", "<div class=WordSection1><div id=divRplyFwdMsg>x</div></div>", "outlook" },
	{ "", "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><p>x</p></html>",
	  "outlook" },
	{ "", "<span id=\"OLK_SRC_BODY_SECTION\">x</span>", "outlook" },
	{ "", "<div class=\"moz-cite-prefix\">On 1/2/24 Ann wrote:</div>", "thunderbird" },
	{ "", "<div dir=\"ltr\" id=\"AppleMailSignature\">Sent from my iPhone</div>", "ios-mail" },
	{ "", "<div class=\"yahoo_quoted\" id=\"yahoo_quoted_1234\">x</div>", "yahoo" },
	{ "", "<div id=\"ms-outlook-mobile-signature\">Get Outlook for iOS</div>",
	  "outlook-mobile" },
	{ "Thread-Index: AQHatw3fVZ2bZ0jz1UuD0Q8r7b4ZJg==\n", NULL, "exchange" },
	/* a marker name in the text is not markup */
	{ "", "<p>the class gmail_quote is used by Gmail</p>", NULL },
	{ "", NULL, NULL },
};

TEST(client_detection)
{
	struct mime_options opt;
	mime_options_default(&opt);
	for (size_t i = 0; i < sizeof(client_cases) / sizeof(client_cases[0]); i++) {
		const struct client_case *c = &client_cases[i];
		char raw[2048];
		snprintf(raw, sizeof(raw),
			 "From: a@example.com\nSubject: client\n%sMIME-Version: 1.0\n"
			 "Content-Type: %s; charset=utf-8\n\n%s\n",
			 c->headers, c->html ? "text/html" : "text/plain", c->html ? c->html : "hi");
		struct parsed p;
		parse_str(&p, raw, &opt);
		CHECK_INT(p.rc, 0);
		if (p.rc == 0) {
			const char *got = p.m->client;
			if (c->want ? !got || strcmp(got, c->want) != 0 : got != NULL) {
				fprintf(stderr, "  case %zu: got %s, want %s\n", i, got ? got : "(null)",
					c->want ? c->want : "(null)");
				CHECK(0);
			}
		}
		parsed_free(&p);
	}
}

int main(void)
{
	mime_global_init();
	RUN(flowed_delsp);
	RUN(flowed_decoder);
	RUN(attach_html);
	RUN(outlook_inline_images);
	RUN(attached_messages_with_text);
	RUN(attached_depth_and_text_budget);
	RUN(dsn_postfix);
	RUN(dsn_exchange);
	RUN(dsn_fields_edge_cases);
	RUN(client_detection);
	mime_global_shutdown();
	return test_summary();
}
