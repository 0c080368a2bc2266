/*
 * engine/mime: winmail.dat (TNEF) unpacked into attachments. Streams are
 * built byte by byte here (signature, records with checksums, MAPI
 * property blocks), so every check in front of libytnef is reached on
 * purpose: every prefix, oversized and repeated records, broken checksums
 * and MAPI blocks, and more files than max_parts allows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util/buf.h"
#include "tests/unit/mail_load.h"
#include "tests/unit/test.h"

#define LVL_MSG 1
#define LVL_ATT 2
#define ATT_VERSION 0x00089006u
#define ATT_CODEPAGE 0x00069007u
#define ATT_MAPI 0x00069003u
#define ATT_BODY 0x0002800Cu
#define ATT_REND 0x00069002u
#define ATT_TITLE 0x00018010u
#define ATT_DATA 0x0006800Fu
#define ATT_ATTACHMENT 0x00069005u

static void put32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	buf_add(b, c, 4);
}

static void put16(struct buf *b, uint16_t v)
{
	unsigned char c[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	buf_add(b, c, 2);
}

static void tnef_start(struct buf *b)
{
	buf_init(b, 1 << 24);
	put32(b, 0x223E9F78u);
	put16(b, 1);
}

static void rec(struct buf *b, unsigned char lvl, uint32_t id, const void *data, size_t n)
{
	uint16_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = (uint16_t)(sum + ((const unsigned char *)data)[i]);
	buf_addc(b, (char)lvl);
	put32(b, id);
	put32(b, (uint32_t)n);
	buf_add(b, data, n);
	put16(b, sum);
}

/* One non-multivalued string/binary MAPI property, padded to 4. */
static void prop_str(struct buf *m, uint32_t tag, const void *s, size_t n)
{
	put32(m, tag);
	put32(m, 1);
	put32(m, (uint32_t)n);
	buf_add(m, s, n);
	while (n++ % 4)
		buf_addc(m, 0);
}

static void rend(struct buf *b)
{
	unsigned char r[14] = { 1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0 };
	rec(b, LVL_ATT, ATT_REND, r, sizeof(r));
}

/* A stream with a version, code page 1252, a MAPI body and n text files. */
static void tnef_build(struct buf *b, unsigned nfiles)
{
	unsigned char v[4] = { 0, 0, 1, 0 }, cp[8] = { 0xE4, 0x04, 0, 0, 0, 0, 0, 0 };
	tnef_start(b);
	rec(b, LVL_MSG, ATT_VERSION, v, 4);
	rec(b, LVL_MSG, ATT_CODEPAGE, cp, 8);
	struct buf m;
	buf_init(&m, 1 << 20);
	put32(&m, 1);
	prop_str(&m, 0x1000001Eu, "Gr\xfc\xdf" "e aus TNEF\r\n", 15); /* PR_BODY, cp1252 */
	rec(b, LVL_MSG, ATT_MAPI, m.data, m.len);
	buf_release(&m);
	for (unsigned i = 0; i < nfiles; i++) {
		char title[32], data[32];
		snprintf(title, sizeof(title), "FILE%u.TXT", i);
		snprintf(data, sizeof(data), "content %u\n", i);
		rend(b);
		rec(b, LVL_ATT, ATT_TITLE, title, strlen(title) + 1);
		rec(b, LVL_ATT, ATT_DATA, data, strlen(data));
	}
}

static bool result_ok(const struct tnef_result *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!text_ok(r->files[i].filename, strlen(r->files[i].filename)) ||
		    !r->files[i].content_type || (r->files[i].size && !r->files[i].data))
			return false;
	if (r->text && !text_ok(r->text, r->text_len))
		return false;
	return !r->html || text_ok(r->html, r->html_len);
}

TEST(outlook_winmail_dat)
{
	struct mime_options opt;
	struct parsed p;
	mime_options_default(&opt);
	parse_opt(&p, "winmail_tnef.eml", &opt);
	CHECK_INT(p.rc, 0);
	if (p.rc == 0) {
		struct message *m = p.m;
		CHECK_STR(m->client, "outlook");
		CHECK_STR(m->from.name, "Müller, Jörg");
		CHECK_STR(m->text, "Hallo,\n\nanbei der Bericht.\n\nGrüße\nJörg\n");
		/* the blob is replaced by what it holds */
		CHECK_INT(m->nattachments, 2);
		if (m->nattachments == 2) {
			struct attachment *a = m->attachments;
			CHECK_STR(a[0].filename, "Quartalsbericht März.txt"); /* long name, cp1252 */
			CHECK_STR(a[0].content_type, "text/plain");
			CHECK(a[0].from_tnef);
			CHECK_INT(a[0].size, 22);
			CHECK(memcmp(a[0].data, "Quarterly numbers: 42\n", 22) == 0);
			char h[65];
			mime_sha256_hex(a[0].data, a[0].size, h);
			CHECK_STR(a[0].sha256, h);
			CHECK_STR(a[1].filename, "Логотип.png"); /* long name, UTF-16 */
			CHECK_STR(a[1].content_type, "image/png");
			CHECK_STR(a[1].content_id, "logo@tnef.example");
			CHECK_INT(a[1].size, 16);
			CHECK(memcmp(a[1].data, "\x89PNG", 4) == 0);
		}
	}
	parsed_free(&p);
}

TEST(unpack_body_and_titles)
{
	struct buf b;
	struct tnef_result r;
	tnef_build(&b, 2);
	struct arena *a = arena_new();
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r), 0);
	CHECK_INT(r.nfiles, 2);
	if (r.nfiles == 2) {
		CHECK_STR(r.files[0].filename, "FILE0.TXT");
		CHECK_STR(r.files[0].content_type, "application/octet-stream");
		CHECK_INT(r.files[1].size, 10);
		CHECK(memcmp(r.files[1].data, "content 1\n", 10) == 0);
	}
	CHECK_STR(r.text, "Grüße aus TNEF\n");
	CHECK(r.html == NULL);
	CHECK(result_ok(&r));
	/* more files than allowed */
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 1, 1000, &r), -2);
	/* not TNEF at all */
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)"hello world", 11, 10, 1000, &r), -1);
	CHECK_INT(mime_tnef_unpack(a, NULL, 0, 10, 1000, &r), -1);
	buf_release(&b);
	arena_free(&a);
}

/* Dovecot's habit: every prefix must unpack or be refused, never crash. */
TEST(every_prefix)
{
	struct buf b;
	tnef_build(&b, 3);
	struct arena *a = arena_new();
	size_t full = 0;
	for (size_t n = 0; n <= b.len; n++) {
		unsigned char *cut = malloc(n ? n : 1);
		memcpy(cut, b.data, n);
		struct tnef_result r;
		int rc = mime_tnef_unpack(a, cut, n, 10, 1000, &r);
		CHECK(rc == 0 || rc == -1);
		if (rc == 0) {
			CHECK(result_ok(&r));
			CHECK(r.nfiles <= 3);
			if (n == b.len)
				full = r.nfiles;
		}
		free(cut);
		arena_reset(a);
	}
	CHECK_INT(full, 3);
	/* a file whose data record is cut off is not there */
	struct tnef_result r;
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len - 3, 10, 1000, &r), 0);
	CHECK_INT(r.nfiles, 2);
	buf_release(&b);
	arena_free(&a);
}

TEST(hostile_records)
{
	struct buf b;
	struct tnef_result r;
	struct arena *a = arena_new();

	/* a record that claims 4 GB: refused before anything is allocated */
	tnef_start(&b);
	rend(&b);
	buf_addc(&b, LVL_ATT);
	put32(&b, ATT_DATA);
	put32(&b, 0xFFFFFFF0u);
	buf_adds(&b, "tiny");
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r), -1);
	buf_release(&b);

	/* attachment data before any attachment, a repeated data record, a bad checksum */
	tnef_start(&b);
	rec(&b, LVL_ATT, ATT_DATA, "orphan", 6);
	rend(&b);
	rec(&b, LVL_ATT, ATT_TITLE, "A.TXT", 6);
	rec(&b, LVL_ATT, ATT_DATA, "first", 5);
	rec(&b, LVL_ATT, ATT_DATA, "second", 6);
	rend(&b);
	rec(&b, LVL_ATT, ATT_TITLE, "B.TXT", 6);
	rec(&b, LVL_ATT, ATT_DATA, "bee", 3);
	size_t at = b.len;
	rend(&b);
	rec(&b, LVL_ATT, ATT_DATA, "lost", 4);
	b.data[at + 9] ^= 0x55; /* breaks the checksum of the third rendering record */
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r), 0);
	CHECK_INT(r.nfiles, 2);
	if (r.nfiles == 2) {
		CHECK_STR(r.files[0].filename, "A.TXT");
		CHECK_INT(r.files[0].size, 5);
		CHECK(memcmp(r.files[0].data, "first", 5) == 0);
		CHECK_STR(r.files[1].filename, "B.TXT");
	}
	buf_release(&b);

	/* MAPI blocks libytnef would fail on are dropped; the file stays, by its title */
	static const uint32_t bad_types[] = { 0x3707ABCDu, 0x3707001Fu };
	for (size_t i = 0; i < 2; i++) {
		tnef_start(&b);
		rend(&b);
		rec(&b, LVL_ATT, ATT_TITLE, "SHORT.TXT", 10);
		rec(&b, LVL_ATT, ATT_DATA, "x", 1);
		struct buf m;
		buf_init(&m, 1 << 20);
		put32(&m, 1);
		if (i == 0) {
			prop_str(&m, bad_types[i], "name.txt", 9); /* unknown property type */
		} else {
			char *big = calloc(1, 100002); /* UTF-16 over libytnef's 100,000 */
			prop_str(&m, bad_types[i], big, 100002);
			free(big);
		}
		rec(&b, LVL_ATT, ATT_ATTACHMENT, m.data, m.len);
		buf_release(&m);
		CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r),
			  0);
		CHECK_INT(r.nfiles, 1);
		if (r.nfiles == 1)
			CHECK_STR(r.files[0].filename, "SHORT.TXT");
		buf_release(&b);
	}

	/* a title over libytnef's 100 bytes would fail the whole stream: only it goes */
	tnef_start(&b);
	rend(&b);
	char longtitle[160];
	memset(longtitle, 'T', sizeof(longtitle) - 1);
	longtitle[sizeof(longtitle) - 1] = '\0';
	rec(&b, LVL_ATT, ATT_TITLE, longtitle, sizeof(longtitle));
	rec(&b, LVL_ATT, ATT_DATA, "kept", 4);
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r), 0);
	CHECK_INT(r.nfiles, 1);
	if (r.nfiles == 1) {
		CHECK_STR(r.files[0].filename, "attachment-1");
		CHECK_INT(r.files[0].size, 4);
	}
	buf_release(&b);

	/* a MAPI count past libytnef's cap, and one whose block is longer than it says */
	tnef_start(&b);
	rend(&b);
	rec(&b, LVL_ATT, ATT_DATA, "y", 1);
	unsigned char many[8] = { 0xE9, 0x03, 0, 0, 0, 0, 0, 0 }; /* 1001 properties */
	rec(&b, LVL_ATT, ATT_ATTACHMENT, many, sizeof(many));
	CHECK_INT(mime_tnef_unpack(a, (const unsigned char *)b.data, b.len, 10, 1000, &r), 0);
	CHECK_INT(r.nfiles, 1);
	if (r.nfiles == 1)
		CHECK_STR(r.files[0].filename, "attachment-1");
	buf_release(&b);
	arena_free(&a);
}

/* Files unpacked from a winmail.dat count against max_parts. */
TEST(files_count_as_parts)
{
	struct buf t, mail;
	tnef_build(&t, 12);
	buf_init(&mail, 1 << 24);
	buf_adds(&mail, "From: a@example.com\nSubject: many files\nMIME-Version: 1.0\n"
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n"
			"see attached\n--x\nContent-Type: application/ms-tnef\n"
			"Content-Transfer-Encoding: base64\n\n");
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)t.data;
	for (size_t i = 0; i < t.len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < t.len ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < t.len ? s[i + 2] : 0);
		char q[4] = { b64[v >> 18], b64[(v >> 12) & 63],
			      i + 1 < t.len ? b64[(v >> 6) & 63] : '=', i + 2 < t.len ? b64[v & 63] : '=' };
		buf_add(&mail, q, 4);
		if (i % 57 == 54)
			buf_addc(&mail, '\n');
	}
	buf_adds(&mail, "\n--x--\n");

	struct mime_options opt;
	mime_options_default(&opt);
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	CHECK_INT(mime_parse(mail.data, mail.len, &opt, a, &m, &err), 0);
	if (m) {
		CHECK_INT(m->nattachments, 12);
		CHECK_STR(m->text, "see attached");
	}
	arena_reset(a);
	opt.limits.max_parts = 10;
	CHECK_INT(mime_parse(mail.data, mail.len, &opt, a, &m, &err), -1);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(err.msg, "mime: winmail.dat holds more files than the limit of 10 parts (or 1000) "
			      "allows");
	arena_free(&a);
	buf_release(&mail);
	buf_release(&t);
}

TEST(tnef_only_mail_gives_the_body)
{
	struct buf t, mail;
	tnef_build(&t, 1);
	buf_init(&mail, 1 << 24);
	buf_adds(&mail, "From: a@example.com\nSubject: rich text\nMIME-Version: 1.0\n"
			"Content-Type: application/ms-tnef; name=winmail.dat\n"
			"Content-Transfer-Encoding: 8bit\n\n");
	buf_add(&mail, t.data, t.len);
	struct mime_options opt;
	mime_options_default(&opt);
	struct arena *a = arena_new();
	struct message *m = NULL;
	struct err err;
	CHECK_INT(mime_parse(mail.data, mail.len, &opt, a, &m, &err), 0);
	if (m) {
		CHECK_STR(m->text, "Grüße aus TNEF\n");
		CHECK_INT(m->nattachments, 1);
	}
	/* not TNEF after all: kept as it came */
	arena_reset(a);
	const char *junk = "From: a@example.com\nSubject: x\nContent-Type: application/ms-tnef\n\n"
			   "not tnef\n";
	CHECK_INT(mime_parse(junk, strlen(junk), &opt, a, &m, &err), 0);
	if (m) {
		CHECK_INT(m->nattachments, 1);
		if (m->nattachments == 1) {
			CHECK_STR(m->attachments[0].content_type, "application/ms-tnef");
			CHECK(!m->attachments[0].from_tnef);
		}
	}
	arena_free(&a);
	buf_release(&mail);
	buf_release(&t);
}

int main(void)
{
	mime_global_init();
	RUN(outlook_winmail_dat);
	RUN(unpack_body_and_titles);
	RUN(every_prefix);
	RUN(hostile_records);
	RUN(files_count_as_parts);
	RUN(tnef_only_mail_gives_the_body);
	mime_global_shutdown();
	return test_summary();
}
