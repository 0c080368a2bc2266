/*
 * engine/mime: text in the charsets customers really send, the account's
 * fallback charset for undeclared 8-bit text and headers, and header
 * decoding (RFC 2047 in display names, broken encoded-words, RFC 2231).
 * Exact decoded values throughout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/mail_load.h"
#include "tests/unit/test.h"

static void parse(struct parsed *p, const char *name)
{
	struct mime_options opt;
	mime_options_default(&opt);
	parse_opt(p, name, &opt);
}

TEST(big5)
{
	struct parsed p;
	parse(&p, "big5.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "印表機故障");
		CHECK_STR(p.m->from.name, "陳大文");
		/* the euro sign is a CP950 addition to Big5 */
		CHECK_STR(p.m->text, "您好，三樓的印表機無法列印。\n費用約 €100。\n謝謝。\n");
	}
	parsed_free(&p);
}

TEST(gb18030_and_gbk_labelled_gb2312)
{
	struct parsed p;
	parse(&p, "gb18030.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		/* 喆 is not in GB2312: the label means GBK */
		CHECK_STR(p.m->subject, "打印机故障 — 陈喆");
		CHECK_STR(p.m->from.name, "陈喆");
		/* four-byte GB18030 sequences: U+20000 and an emoji */
		CHECK_STR(p.m->text, "你好：\n三楼的打印机坏了 𠀀 😀。\n");
	}
	parsed_free(&p);
}

TEST(shift_jis_read_as_cp932)
{
	struct parsed p;
	parse(&p, "shift_jis.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->from.name, "山田太郎");
		/* ① (NEC row 13) and half-width katakana: Windows-31J, not JIS X 0208 */
		CHECK_STR(p.m->text, "①番のプリンターが動きません。\nｶﾀｶﾅ\n");
	}
	parsed_free(&p);
}

TEST(euc_kr_read_as_uhc)
{
	struct parsed p;
	parse(&p, "euc_kr.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->from.name, "김철수");
		/* 똠 exists only in UHC (CP949), which Outlook labels ks_c_5601-1987 */
		CHECK_STR(p.m->text, "프린터가 고장났습니다. 똠방각하\n");
	}
	parsed_free(&p);
}

TEST(fallback_charset_for_undeclared_text_and_headers)
{
	struct mime_options opt;
	struct parsed p;
	mime_options_default(&opt);
	opt.charset_fallback = "koi8-r";
	parse_opt(&p, "undeclared_koi8r.eml", &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "Не работает почта");
		CHECK_STR(p.m->from.name, "Иван Петров");
		CHECK_STR(message_header(p.m, "Subject"), "Не работает почта");
		CHECK_STR(p.m->text, "Здравствуйте!\nПочта не работает.\n");
	}
	parsed_free(&p);

	/* without it: windows-1252, as before (the mail cannot say otherwise) */
	parse(&p, "undeclared_koi8r.eml");
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_STR(p.m->subject, "îÅ ÒÁÂÏÔÁÅÔ ÐÏÞÔÁ");
		CHECK_STR(p.m->text, "úÄÒÁ×ÓÔ×ÕÊÔÅ!\nðÏÞÔÁ ÎÅ ÒÁÂÏÔÁÅÔ.\n");
	}
	parsed_free(&p);

	/* valid UTF-8 stays UTF-8 whatever the fallback says */
	parse_opt(&p, "undeclared_utf8.eml", &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0)
		CHECK_STR(p.m->text, "Grüße aus Köln – danke!\n");
	parsed_free(&p);
}

static const char names_mail[] =
	"From: \"=?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?=\" <ivan@example.ru>\n"
	"To: =?utf-8?Q?M=C3=BCller=2C_J=C3=B6rg?= <j@example.com>, "
	"=?iso-8859-1?q?Ren=E9e?= =?iso-8859-1?q?_Dupont?= <renee@example.fr>\n"
	"Cc: =?utf-8?B?5bGx55Sw?==?utf-8?B?5aSq6YOO?= <taro@example.jp>\n"
	"Subject: =?utf-8?Q?Rechnung_f=C3?= =?utf-8?Q?=BCr_M=C3=A4rz?= und =?utf-8?q?Mahnung?=\n"
	"X-Broken: =?utf-8?B?w6TDtsO8?=x\n"
	"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nbody\n";

TEST(encoded_words_in_names_and_broken_ones)
{
	struct mime_options opt;
	struct parsed p;
	mime_options_default(&opt);
	parse_str(&p, names_mail, &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		/* an encoded-word inside a quoted string (RFC 2047 forbids it, Outlook does it) */
		CHECK_STR(p.m->from.name, "Иван Петров");
		CHECK_INT(p.m->to.n, 2);
		if (p.m->to.n == 2) {
			/* the comma is inside the encoded-word: one address, not two */
			CHECK_STR(p.m->to.v[0].name, "Müller, Jörg");
			CHECK_STR(p.m->to.v[0].email, "j@example.com");
			CHECK_STR(p.m->to.v[1].name, "Renée Dupont");
		}
		CHECK_INT(p.m->cc.n, 1);
		if (p.m->cc.n == 1) /* two encoded-words without white space between */
			CHECK_STR(p.m->cc.v[0].name, "山田太郎");
		/* a UTF-8 sequence split over two encoded-words */
		CHECK_STR(p.m->subject, "Rechnung für März und Mahnung");
		/* an encoded-word glued to a word */
		CHECK_STR(message_header(p.m, "X-Broken"), "äöüx");
	}
	parsed_free(&p);
}

static const char params_mail[] =
	"From: a@example.ru\nSubject: files\nMIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=b\n\n"
	"--b\nContent-Type: text/plain\n\nx\n"
	"--b\nContent-Type: application/octet-stream\n"
	"Content-Disposition: attachment; filename*=koi8-r''%F0%D2%C9%CD%C5%D2.txt\n\nA\n"
	"--b\nContent-Type: application/msword; name=\"\xef\xd4\xde\xa3\xd4.doc\"\n"
	"Content-Disposition: attachment; filename=\"\xef\xd4\xde\xa3\xd4.doc\"\n\nB\n"
	"--b\nContent-Type: text/html\n\n<html><head><meta charset=\"windows-1251\"></head>"
	"<body>\xcf\xf0\xe8\xe2\xe5\xf2</body></html>\n--b--\n";

TEST(parameters_and_html_meta_charset)
{
	struct mime_options opt;
	struct parsed p;
	mime_options_default(&opt);
	opt.charset_fallback = "koi8-r";
	parse_str(&p, params_mail, &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		CHECK_INT(p.m->nattachments, 2);
		if (p.m->nattachments == 2) {
			/* RFC 2231 with its own charset */
			CHECK_STR(p.m->attachments[0].filename, "Пример.txt");
			/* raw 8-bit parameter: the account's fallback */
			CHECK_STR(p.m->attachments[1].filename, "Отчёт.doc");
		}
		/* no charset parameter: the HTML's <meta charset> */
		CHECK(p.m->html && strstr(p.m->html, "<body>Привет</body>") != NULL);
		CHECK_STR(p.m->text, "x"); /* the line end before a boundary belongs to it */
	}
	parsed_free(&p);
}

TEST(charset_names)
{
	CHECK(mime_charset_known("koi8-r"));
	CHECK(mime_charset_known("windows-1251"));
	CHECK(mime_charset_known("Shift_JIS"));
	CHECK(mime_charset_known("gb2312"));
	CHECK(mime_charset_known("latin1"));
	CHECK(mime_charset_known("UTF-8"));
	CHECK(!mime_charset_known("x-no-such-charset"));
	CHECK(!mime_charset_known(""));
	CHECK(!mime_charset_known(NULL));

	struct arena *a = arena_new();
	size_t n;
	bool cut;
	/* an unknown label is undeclared: the fallback decides */
	const char *jis = "\x1b$B$\"\x1b(B a \x1b(I1\x1b(B";
	const char *meta = "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-2\">";
	const char *s = mime_text_to_utf8(a, "\xf0\xd2\xc9", 3, "x-no-such", "koi8-r", 100, &n,
					  &cut);
	CHECK_STR(s, "При");
	/* iso-8859-1 is read as windows-1252 */
	s = mime_text_to_utf8(a, "\x93ok\x94 \x80", 6, "ISO-8859-1", NULL, 100, &n, &cut);
	CHECK_STR(s, "“ok” €");
	/* ISO-2022-JP with half-width katakana (glibc's ISO-2022-JP drops them) */
	s = mime_text_to_utf8(a, jis, strlen(jis), "iso-2022-jp", NULL, 100,
			      &n, &cut);
	CHECK_STR(s, "あ a ｱ");
	char buf[64];
	CHECK_STR(mime_html_charset_sniff(meta, strlen(meta), buf, sizeof(buf)),
		  "iso-8859-2");
	CHECK(mime_html_charset_sniff("<p>no meta</p>", 14, buf, sizeof(buf)) == NULL);
	arena_free(&a);
}

int main(void)
{
	mime_global_init();
	RUN(big5);
	RUN(gb18030_and_gbk_labelled_gb2312);
	RUN(shift_jis_read_as_cp932);
	RUN(euc_kr_read_as_uhc);
	RUN(fallback_charset_for_undeclared_text_and_headers);
	RUN(encoded_words_in_names_and_broken_ones);
	RUN(parameters_and_html_meta_charset);
	RUN(charset_names);
	mime_global_shutdown();
	return test_summary();
}
