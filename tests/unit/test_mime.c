/*
 * engine/mime: sample mails in tests/mail/ (run from the top of the tree)
 * with their exact decoded values, limit breaches built at run time, and
 * every prefix of some samples (a cut mail must parse or fail cleanly).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"
#include "engine/net/digest.h"
#include "engine/util/buf.h"
#include "tests/unit/mail_load.h"
#include "tests/unit/test.h"

/* mime_parse() with default options around the given limits */
static int parse_lim(const char *raw, size_t len, const struct mime_limits *lim, struct arena *a,
		     struct message **m, struct err *err)
{
	struct mime_options opt;
	mime_options_default(&opt);
	opt.limits = *lim;
	return mime_parse(raw, len, &opt, a, m, err);
}

static void parse_with(struct parsed *p, const char *name, const struct mime_limits *lim)
{
	size_t len;
	memset(p, 0, sizeof(*p));
	p->a = arena_new();
	p->raw = mail_load(name, &len);
	p->rc = p->raw ? parse_lim(p->raw, len, lim, p->a, &p->m, &p->err) : -1;
	if (p->rc < 0)
		fprintf(stderr, "  %s: %s\n", name, p->err.msg);
}

static void parse(struct parsed *p, const char *name)
{
	struct mime_limits lim;
	mime_limits_default(&lim);
	parse_with(p, name, &lim);
}


static int parse_buf(const char *raw, size_t len, const struct mime_limits *lim, struct err *err)
{
	struct arena *a = arena_new();
	struct message *m = NULL;
	int rc = parse_lim(raw, len, lim, a, &m, err);
	arena_free(&a);
	return rc;
}

TEST(limits_default)
{
	struct mime_limits lim;
	mime_limits_default(&lim);
	CHECK_INT(lim.max_size, 25 * 1024 * 1024);
	CHECK_INT(lim.max_parts, 500);
	CHECK_INT(lim.max_depth, 20);
	CHECK_INT(lim.max_header_bytes, 1024 * 1024);
	CHECK_INT(lim.max_text_bytes, 4 * 1024 * 1024);
}

TEST(sha256_hex)
{
	char h[65];
	mime_sha256_hex("abc", 3, h);
	CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	mime_sha256_hex("", 0, h);
	CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* The identity hash takes line ends as CRLF: a mail saved with LF, or with
 * both, hashes as the CRLF copy an IMAP server hands out, in any chunking. */
TEST(raw_sha256_is_the_crlf_form)
{
	static const char crlf[] = "Subject: x\r\n\r\nline\r\n\r\nend\r\n";
	static const char lf[] = "Subject: x\n\nline\n\nend\n";
	static const char mixed[] = "Subject: x\r\n\nline\n\r\nend\r\n";
	char want[65], h[65];
	mime_sha256_hex(crlf, strlen(crlf), want);
	mime_raw_sha256_hex(crlf, strlen(crlf), h);
	CHECK_STR(h, want);
	mime_raw_sha256_hex(lf, strlen(lf), h);
	CHECK_STR(h, want);
	mime_raw_sha256_hex(mixed, strlen(mixed), h);
	CHECK_STR(h, want);
	/* one byte at a time: a CR and its LF in different chunks stay one CRLF */
	struct digest_sha256 *d = digest_sha256_new();
	bool cr = false;
	for (size_t i = 0; mixed[i]; i++)
		digest_sha256_update_crlf(d, &mixed[i], 1, &cr);
	digest_sha256_final_hex(&d, h);
	CHECK_STR(h, want);
	/* a lone CR is not a line end: kept as it is */
	mime_raw_sha256_hex("a\rb", 3, h);
	mime_sha256_hex("a\rb", 3, want);
	CHECK_STR(h, want);
	/* a parsed LF mail carries the hash of its CRLF form */
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err = {0};
	struct mime_limits lim;
	mime_limits_default(&lim);
	CHECK_INT(parse_lim(lf, strlen(lf), &lim, a, &m, &err), 0);
	mime_sha256_hex(crlf, strlen(crlf), want);
	if (m)
		CHECK_STR(m->raw_sha256, want);
	arena_free(&a);
}

TEST(alternative_text_and_html)
{
	struct parsed p;
	parse(&p, "alternative.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK_STR(m->message_id, "20240514071240.4711@mail.example.com");
		CHECK_STR(m->in_reply_to, "ticket-1234@example.org");
		CHECK_STR(m->references, "<ticket-1200@example.org> <ticket-1234@example.org>");
		CHECK_STR(m->subject, "VPN verbindet nicht – Fehler 809");
		CHECK_STR(m->from.name, "Jörg Müller");
		CHECK_STR(m->from.email, "joerg.mueller@example.com");
		CHECK_STR(m->reply_to.name, "Jörg (privat)");
		CHECK_STR(m->reply_to.email, "joerg@example.net");
		CHECK_INT(m->to.n, 2);
		if (m->to.n == 2) {
			CHECK_STR(m->to.v[0].name, "Support Team");
			CHECK_STR(m->to.v[0].email, "support@example.org");
			CHECK_STR(m->to.v[1].name, "Helpdesk, Level 2");
			CHECK_STR(m->to.v[1].email, "l2@example.org");
		}
		/* the group "Undisclosed:" is flattened */
		CHECK_INT(m->cc.n, 2);
		if (m->cc.n == 2) {
			CHECK_STR(m->cc.v[0].name, "");
			CHECK_STR(m->cc.v[0].email, "anna@example.net");
			CHECK_STR(m->cc.v[1].name, "Bob B.");
		}
		CHECK_INT(m->date, 1715670760);
		CHECK_STR(m->text, "Hallo zusammen,\n\nseit dem Update bekomme ich beim Verbinden "
				   "mit dem VPN den Fehler 809. Grüße\nJörg\n"); /* format=flowed: joined */
		CHECK_INT(m->text_len, strlen(m->text));
		CHECK(m->html && strstr(m->html, "<b>Fehler 809</b>") != NULL);
		CHECK(m->html && strstr(m->html, "Grüße<br>Jörg") != NULL);
		CHECK_INT(m->nattachments, 0);
		CHECK_INT(m->nheaders, 14);
		if (m->nheaders == 14) {
			CHECK_STR(m->headers[0].name, "Return-Path");
			/* folded value, unfolded */
			CHECK_STR(m->headers[1].value,
				  "from mx1.example.net (mx1.example.net [192.0.2.10])\tby "
				  "mail.example.org with ESMTPS id 4QxYz1\tfor "
				  "<support@example.org>; Tue, 14 May 2024 09:12:44 +0200");
			CHECK_STR(m->headers[6].name, "Subject");
			CHECK_STR(m->headers[6].value, "VPN verbindet nicht – Fehler 809");
			/* GMime files Content-Type under the body part: it is back in order */
			CHECK_STR(m->headers[12].name, "Content-Type");
			CHECK_STR(m->headers[13].name, "X-Mailer");
		}
		CHECK_STR(message_header(m, "x-mailer"), "Thunderbird 115.10");
		CHECK(message_header(m, "X-Absent") == NULL);
		CHECK_INT(m->raw_size, strlen(p.raw));
		char h[65];
		mime_raw_sha256_hex(p.raw, m->raw_size, h);
		CHECK_STR(m->raw_sha256, h);
		CHECK(!m->truncated);
	}
	parsed_free(&p);
}

TEST(html_only_becomes_text)
{
	struct parsed p;
	parse(&p, "html_only.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "Printer status\n\n"
				     "The toner of PRN-04 is at 5%. Order & replace soon.\n\n"
				     "- Black: 5%\n- Cyan: 40%\n\n"
				     "1. Open the front cover\n2. Replace the cartridge\n\n"
				     "Tray | Paper\n1 | A4\n\n"
				     "> Quoted line one\n> Quoted line two\n\n"
				     "See the status page <https://status.example.com/prn04> or "
				     "https://example.com/.\n\n[Logo] Café");
		CHECK(p.m->html && strncmp(p.m->html, "<!DOCTYPE html>", 15) == 0);
		CHECK_INT(p.m->nattachments, 0);
	}
	parsed_free(&p);
}

TEST(rfc2231_filenames)
{
	struct parsed p;
	parse(&p, "rfc2231_filename.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "Please find the current rates attached.\n");
		CHECK_INT(p.m->nattachments, 2);
		if (p.m->nattachments == 2) {
			struct attachment *a = p.m->attachments;
			CHECK_STR(a[0].filename, "€ rates.pdf");
			CHECK_STR(a[0].content_type, "application/pdf");
			CHECK(a[0].content_id == NULL);
			CHECK(!a[0].is_inline);
			CHECK_INT(a[0].size, 77);
			CHECK(memcmp(a[0].data, "%PDF-1.4\n", 9) == 0);
			CHECK_STR(a[0].sha256,
				  "56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26");
			CHECK_STR(a[1].filename, "Quarterly report été 2024.xlsx");
			CHECK_STR(a[1].content_type,
				  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
			CHECK_INT(a[1].size, 1024);
			CHECK_STR(a[1].sha256,
				  "785b0751fc2c53dc14a4ce3d800e69ef9ce1009eb327ccf458afe09c242c26c9");
		}
	}
	parsed_free(&p);
}

TEST(rfc2047_subjects)
{
	struct parsed p;
	parse(&p, "subject_utf8_b.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "Passwort vergessen – bitte zurücksetzen");
		CHECK_STR(p.m->from.name, "Иван Петров");
	}
	parsed_free(&p);
	parse(&p, "subject_utf8_q.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		/* two folded encoded-words, the second one a 4-byte emoji; CRLF mail */
		CHECK_STR(p.m->subject, "Drucker im 2. Stock „defekt“ 🖨");
		CHECK_STR(p.m->text, "Body.\n");
	}
	parsed_free(&p);
	parse(&p, "subject_latin1.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "Problème d'accès à l'imprimante");
		CHECK_STR(p.m->from.name, "François Lévêque");
	}
	parsed_free(&p);
}

TEST(latin1_body)
{
	struct parsed p;
	parse(&p, "latin1_body.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "Drucker im Büro");
		CHECK_STR(p.m->from.name, "Jürgen Weiß");
		CHECK_STR(p.m->text, "Sehr geehrte Damen und Herren,\n\nder Drucker im Büro 3.14 "
				     "druckt nur noch weiße Seiten.\nMit freundlichen Grüßen\n"
				     "Jürgen Weiß\n");
	}
	parsed_free(&p);
}

TEST(windows1252_body)
{
	struct parsed p;
	parse(&p, "cp1252_body.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_STR(p.m->text, "Hi team,\n\n“The invoice” shows € 1,200 – that’s wrong.\n");
	parsed_free(&p);
}

TEST(koi8r_body_and_subject)
{
	struct parsed p;
	parse(&p, "koi8r.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "Не работает принтер");
		CHECK_STR(p.m->from.name, "Иван Петров");
		CHECK_STR(p.m->text, "Здравствуйте!\nПринтер в кабинете 12 не печатает.\nСпасибо.\n");
	}
	parsed_free(&p);
}

TEST(iso2022jp_body_and_subject)
{
	struct parsed p;
	parse(&p, "iso2022jp.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "プリンターの故障");
		CHECK_STR(p.m->from.name, "山田太郎");
		CHECK_STR(p.m->text, "お世話になっております。\n三階のプリンターが動きません。\n"
				     "よろしくお願いします。\n");
	}
	parsed_free(&p);
}

TEST(attached_message_is_one_eml)
{
	struct parsed p;
	parse(&p, "attached_message.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		/* the body comes from the outer mail, never the attached one */
		CHECK_STR(p.m->text, "See the forwarded message below.\n");
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			struct attachment *a = &p.m->attachments[0];
			CHECK_STR(a->filename, "Server down.eml");
			CHECK_STR(a->content_type, "message/rfc822");
			CHECK(a->size > 300);
			const char *d = (const char *)a->data;
			CHECK(strncmp(d, "From: Monitoring <monitor@example.net>", 38) == 0);
			CHECK(strstr(d, "error: connection refused") != NULL);
			char h[65];
			mime_sha256_hex(a->data, a->size, h);
			CHECK_STR(a->sha256, h);
		}
	}
	parsed_free(&p);
}

TEST(inline_cid_image)
{
	struct parsed p;
	parse(&p, "inline_cid.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "Hello\n\n[Company logo]");
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			struct attachment *a = &p.m->attachments[0];
			CHECK_STR(a->filename, "");
			CHECK_STR(a->content_type, "image/png");
			CHECK_STR(a->content_id, "logo.png@01DA0000");
			/* no Content-Disposition: inline because the HTML shows it */
			CHECK(a->is_inline);
			CHECK_INT(a->size, 70);
			CHECK_STR(a->sha256,
				  "3d9fe97a145c2d78828340fc14ea5629015f2e0688f29e5cfdda73ccb7dff23a");
		}
	}
	parsed_free(&p);
}

TEST(broken_missing_end_boundary)
{
	struct parsed p;
	parse(&p, "broken_no_end.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "First part text.\n");
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			CHECK_STR(p.m->attachments[0].filename, "data.bin");
			CHECK_INT(p.m->attachments[0].size, 8);
			CHECK(memcmp(p.m->attachments[0].data, "\0\1\2\3\4\5\6\7", 8) == 0);
		}
	}
	parsed_free(&p);
}

TEST(broken_base64)
{
	struct parsed p;
	parse(&p, "broken_base64.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		/* bytes outside the alphabet are skipped */
		CHECK_STR(p.m->text, "Hello world");
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			CHECK_STR(p.m->attachments[0].filename, "x.bin");
			CHECK_INT(p.m->attachments[0].size, 0);
		}
	}
	parsed_free(&p);
}

TEST(broken_inner_boundary_unclosed)
{
	struct parsed p;
	parse(&p, "broken_unclosed.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "Plain body here.\n");
		CHECK_STR(p.m->html, "<p>HTML body here.</p>\n");
		CHECK_INT(p.m->nattachments, 1);
		if (p.m->nattachments == 1) {
			CHECK_STR(p.m->attachments[0].filename, "report.csv");
			CHECK_STR(p.m->attachments[0].content_type, "text/csv");
			CHECK_INT(p.m->attachments[0].size, 8);
		}
	}
	parsed_free(&p);
}

TEST(undeclared_charset)
{
	struct parsed p;
	parse(&p, "undeclared_utf8.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_STR(p.m->text, "Grüße aus Köln – danke!\n");
	parsed_free(&p);
	parse(&p, "undeclared_latin1.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_STR(p.m->text, "Grüße aus Köln – danke €!\n");
	parsed_free(&p);
}

TEST(invalid_utf8_repaired)
{
	struct parsed p;
	parse(&p, "invalid_utf8.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->text, "ok \xEF\xBF\xBD\xEF\xBF\xBD then nul and "
				     "\xEF\xBF\xBD\xEF\xBF\xBD cut\n");
		CHECK(text_ok(p.m->text, p.m->text_len));
		CHECK_INT(p.m->date, 0);
		CHECK_STR(message_header(p.m, "Date"), "not a date at all");
	}
	parsed_free(&p);
}

TEST(header_only_and_empty_body)
{
	struct parsed p;
	parse(&p, "header_only.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "header only");
		CHECK_STR(p.m->text, "");
		CHECK_INT(p.m->text_len, 0);
		CHECK(p.m->html == NULL);
		CHECK_INT(p.m->nattachments, 0);
		CHECK_INT(p.m->nheaders, 5);
	}
	parsed_free(&p);
	parse(&p, "empty_body.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "");
		CHECK_STR(p.m->text, "");
		CHECK_INT(p.m->date, 0);
		CHECK_STR(p.m->reply_to.email, "");
		CHECK(p.m->in_reply_to == NULL);
		CHECK(p.m->references == NULL);
	}
	parsed_free(&p);
}

TEST(mbox_from_line_skipped)
{
	const char *raw = "From someone@example.com Sat May 25 10:00:00 2024\n"
			  "From: someone@example.com\nSubject: piped\n\nhello\n";
	struct mime_limits lim;
	mime_limits_default(&lim);
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	CHECK_INT(parse_lim(raw, strlen(raw), &lim, a, &m, &err), 0);
	if (m) {
		CHECK_STR(m->subject, "piped");
		CHECK_STR(m->text, "hello\n");
		CHECK_INT(m->raw_size, strlen(raw));
	}
	arena_free(&a);
}

/* ---- limits ---- */

static char *mail_with_parts(unsigned nparts, size_t *len_r)
{
	struct buf b;
	buf_init(&b, 1 << 26);
	buf_adds(&b, "From: a@example.com\nSubject: parts\nMIME-Version: 1.0\n"
		     "Content-Type: multipart/mixed; boundary=\"p\"\n\n");
	for (unsigned i = 0; i < nparts; i++)
		buf_addf(&b, "--p\nContent-Type: text/plain\n\npart %u\n", i);
	buf_adds(&b, "--p--\n");
	return buf_detach(&b, len_r);
}

static char *mail_nested(unsigned depth, bool rfc822, size_t *len_r)
{
	struct buf b;
	buf_init(&b, 1 << 26);
	buf_adds(&b, "From: a@example.com\nSubject: deep\nMIME-Version: 1.0\n");
	for (unsigned i = 0; i < depth; i++) {
		if (rfc822)
			buf_adds(&b, "Content-Type: message/rfc822\n\nSubject: inner\n");
		else
			buf_addf(&b, "Content-Type: multipart/mixed; boundary=\"d%u\"\n\n--d%u\n", i,
				 i);
	}
	buf_adds(&b, "Content-Type: text/plain\n\nbottom\n");
	if (!rfc822)
		for (unsigned i = depth; i-- > 0;)
			buf_addf(&b, "--d%u--\n", i);
	return buf_detach(&b, len_r);
}

TEST(limit_parts)
{
	struct mime_limits lim;
	struct err err;
	size_t len;
	mime_limits_default(&lim);

	char *raw = mail_with_parts(612, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: 613 parts exceed the limit of 500");
	free(raw);

	/* far over: refused by the pre-scan, before GMime builds anything */
	raw = mail_with_parts(100000, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: about 100001 parts exceed the limit of 500");
	free(raw);

	raw = mail_with_parts(499, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), 0);
	free(raw);
}

TEST(limit_parts_ignores_dash_lines_in_text)
{
	/* a pasted log full of "----" lines is not a mail full of parts */
	struct buf b;
	buf_init(&b, 1 << 24);
	buf_adds(&b, "From: a@example.com\nSubject: log\nContent-Type: multipart/mixed; "
		     "boundary=\"xyz\"\n\n--xyz\nContent-Type: text/plain\n\n");
	for (int i = 0; i < 3000; i++)
		buf_adds(&b, "--------------------------------\n");
	buf_adds(&b, "--xyz--\n");
	size_t len;
	char *raw = buf_detach(&b, &len);
	struct mime_limits lim;
	struct err err;
	mime_limits_default(&lim);
	CHECK_INT(parse_buf(raw, len, &lim, &err), 0);
	free(raw);
}

TEST(limit_depth)
{
	struct mime_limits lim;
	struct err err;
	size_t len;
	mime_limits_default(&lim);

	char *raw = mail_nested(25, false, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: parts nested deeper than 20 levels");
	free(raw);

	raw = mail_nested(25, true, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: parts nested deeper than 20 levels");
	free(raw);

	raw = mail_nested(19, false, &len);
	CHECK_INT(parse_buf(raw, len, &lim, &err), 0);
	free(raw);

	/* very deep with generous part limits: GMime's own nesting cap holds */
	lim.max_parts = 100000;
	lim.max_depth = 100000;
	raw = mail_nested(5000, false, &len);
	int rc = parse_buf(raw, len, &lim, &err);
	CHECK(rc == 0 || err.cls == ERR_MESSAGE);
	free(raw);
	raw = mail_nested(5000, true, &len);
	rc = parse_buf(raw, len, &lim, &err);
	CHECK(rc == 0 || err.cls == ERR_MESSAGE);
	free(raw);
}

TEST(limit_header_and_size)
{
	struct mime_limits lim;
	struct err err;
	mime_limits_default(&lim);
	lim.max_header_bytes = 4096;

	struct buf b;
	buf_init(&b, 1 << 20);
	buf_adds(&b, "From: a@example.com\n");
	for (int i = 0; i < 200; i++)
		buf_addf(&b, "X-Filler-%d: %s\n", i, "0123456789012345678901234567890123456789");
	buf_adds(&b, "\nbody\n");
	CHECK_INT(parse_buf(b.data, b.len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: header block exceeds the limit of 4096 bytes");

	/* no blank line at all: the whole mail is header */
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		buf_adds(&b, "garbage garbage garbage\n");
	CHECK_INT(parse_buf(b.data, b.len, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);

	lim.max_header_bytes = 1024 * 1024;
	lim.max_size = 100;
	CHECK_INT(parse_buf(b.data, 101, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: message of 101 bytes exceeds the limit of 100 bytes");
	buf_release(&b);

	mime_limits_default(&lim);
	CHECK_INT(parse_buf("", 0, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	const char junk[] = "\x00\x01\x02 binary junk without any header\n\xff\xfe";
	CHECK_INT(parse_buf(junk, sizeof(junk) - 1, &lim, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: not a mail message");
}

TEST(limit_text_truncates)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_adds(&b, "From: a@example.com\nSubject: long\nContent-Type: text/plain; "
		     "charset=utf-8\n\n");
	for (int i = 0; i < 100; i++)
		buf_adds(&b, "äöü€");
	struct mime_limits lim;
	mime_limits_default(&lim);
	lim.max_text_bytes = 100;
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	CHECK_INT(parse_lim(b.data, b.len, &lim, a, &m, &err), 0);
	if (m) {
		CHECK(m->truncated);
		CHECK(m->text_len <= 100 && m->text_len >= 97);
		CHECK(text_ok(m->text, m->text_len));
	}
	arena_free(&a);
	buf_release(&b);
}

/* every prefix must parse or fail with ERR_MESSAGE; results stay valid */
static void prefixes_check(const char *name)
{
	size_t len;
	char *raw = mail_load(name, &len);
	CHECK(raw != NULL);
	if (!raw)
		return;
	struct mime_limits lim;
	mime_limits_default(&lim);
	struct arena *a = arena_new();
	for (size_t n = 0; n <= len; n++) {
		/* a private copy so ASan sees any read past the prefix */
		char *cut = malloc(n ? n : 1);
		memcpy(cut, raw, n);
		struct message *m = NULL;
		struct err err;
		int rc = parse_lim(cut, n, &lim, a, &m, &err);
		if (rc < 0) {
			CHECK_INT(err.cls, ERR_MESSAGE);
		} else {
			CHECK(m != NULL);
			CHECK(text_ok(m->text, m->text_len));
			CHECK(text_ok(m->subject, strlen(m->subject)));
			if (m->html)
				CHECK(text_ok(m->html, m->html_len));
		}
		free(cut);
		arena_reset(a);
	}
	arena_free(&a);
	free(raw);
}

TEST(truncated_mails)
{
	prefixes_check("alternative.eml");
	prefixes_check("rfc2231_filename.eml");
	prefixes_check("attached_message.eml");
	prefixes_check("iso2022jp.eml");
	prefixes_check("inline_cid.eml");
	prefixes_check("winmail_tnef.eml");
	prefixes_check("forward_rfc822.eml");
	prefixes_check("dsn_exchange.eml");
}

/* workers parse at the same time (DESIGN.md, decision 5): no shared state */
static void *parse_worker(void *arg)
{
	static const char *const names[] = { "alternative.eml", "koi8r.eml", "iso2022jp.eml",
					     "cp1252_body.eml", "html_only.eml" };
	static const char *const subjects[] = { "VPN verbindet nicht – Fehler 809",
						"Не работает принтер", "プリンターの故障",
						"Invoice amount", "Toner low on PRN-04" };
	long bad = 0;
	(void)arg;
	struct mime_limits lim;
	mime_limits_default(&lim);
	for (int round = 0; round < 40; round++) {
		for (size_t i = 0; i < 5; i++) {
			struct parsed p;
			parse_with(&p, names[i], &lim);
			if (p.rc != 0 || strcmp(p.m->subject, subjects[i]) != 0 ||
			    !text_ok(p.m->text, p.m->text_len))
				bad++;
			parsed_free(&p);
		}
	}
	return (void *)bad;
}

TEST(parallel_parses)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		CHECK_INT(pthread_create(&th[i], NULL, parse_worker, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *bad = NULL;
		pthread_join(th[i], &bad);
		CHECK(bad == NULL);
	}
}

int main(void)
{
	mime_global_init();
	RUN(limits_default);
	RUN(sha256_hex);
	RUN(raw_sha256_is_the_crlf_form);
	RUN(alternative_text_and_html);
	RUN(html_only_becomes_text);
	RUN(rfc2231_filenames);
	RUN(rfc2047_subjects);
	RUN(latin1_body);
	RUN(windows1252_body);
	RUN(koi8r_body_and_subject);
	RUN(iso2022jp_body_and_subject);
	RUN(attached_message_is_one_eml);
	RUN(inline_cid_image);
	RUN(broken_missing_end_boundary);
	RUN(broken_base64);
	RUN(broken_inner_boundary_unclosed);
	RUN(undeclared_charset);
	RUN(invalid_utf8_repaired);
	RUN(header_only_and_empty_body);
	RUN(mbox_from_line_skipped);
	RUN(limit_parts);
	RUN(limit_parts_ignores_dash_lines_in_text);
	RUN(limit_depth);
	RUN(limit_header_and_size);
	RUN(limit_text_truncates);
	RUN(truncated_mails);
	RUN(parallel_parses);
	mime_global_shutdown();
	return test_summary();
}
