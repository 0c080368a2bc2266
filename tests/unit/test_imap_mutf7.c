/*
 * Modified UTF-7 mailbox names (RFC 3501 5.1.3): known spellings both
 * ways, every invalid form refused with an error, and every prefix of
 * valid and invalid names (the decoder sees names cut anywhere: it must
 * fail cleanly or succeed, and never read past the end).
 */
#include <stdlib.h>

#include "engine/fetch/imap_mutf7.h"
#include "tests/unit/test.h"

static const struct {
	const char *utf8, *mutf7;
} known[] = {
	{"INBOX", "INBOX"},
	{"Поддержка", "&BB8EPgQ0BDQENQRABDYEOgQw-"},
	{"Soporte/Técnico", "Soporte/T&AOk-cnico"},
	{"INBOX.Ärger", "INBOX.&AMQ-rger"},
	{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},  /* RFC 3501 */
	{"A&B", "A&-B"},
	{"&", "&-"},
	{"😀x", "&2D3eAA-x"},                          /* a surrogate pair */
	{"Badmail/Ошибки", "Badmail/&BB4ESAQ4BDEEOgQ4-"},
	{"tab\there", "tab&AAk-here"},                  /* control characters are shifted */
	{"", ""},
};

static char *enc(const char *s, int *rc)
{
	struct buf b;
	struct err err = {0};
	buf_init(&b, 16 * 1024);
	*rc = imap_mutf7_encode(s, strlen(s), &b, &err);
	return buf_detach(&b, NULL);
}

static char *dec(const char *s, size_t len, int *rc, struct err *err)
{
	struct buf b;
	buf_init(&b, 16 * 1024);
	*rc = imap_mutf7_decode(s, len, &b, err);
	return buf_detach(&b, NULL);
}

TEST(known_names_both_ways)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		int rc;
		struct err err = {0};
		char *e = enc(known[i].utf8, &rc);
		CHECK_INT(rc, 0);
		CHECK_STR(e, known[i].mutf7);
		free(e);
		char *d = dec(known[i].mutf7, strlen(known[i].mutf7), &rc, &err);
		CHECK_INT(rc, 0);
		CHECK_STR(d, known[i].utf8);
		free(d);
	}
}

TEST(invalid_server_names_refused)
{
	static const char *const bad[] = {
		"&",                    /* no end */
		"&BB8E",                /* run without '-' */
		"&BB8EPgQ0BDQENQRABDYEOgQw",
		"Ä",                    /* 8-bit: not modified UTF-7 */
		"a\001b",                /* control byte sent raw */
		"&AGE-",                /* 'a' shifted: printable ASCII must be direct */
		"&AAA-",                /* NUL */
		"&AM-",                 /* half a UTF-16 unit */
		"&AMR-",                /* stray bits that are not zero */
		"&AMQA-",               /* a whole extra character of padding */
		"&AMQ=-",               /* '=' padding */
		"&AM/-",                /* '/' is ',' in modified base64 */
		"&2D0-",                /* a high surrogate alone */
		"&2D3YPQ-",             /* high followed by high */
		"&3gA-",                /* a low surrogate alone */
		"&AMQ-&AMQ-",           /* two runs in a row: "&AMQAxA-" is the spelling */
		"x&-y&",                /* ends in a shift */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		struct err err = {0};
		char *d = dec(bad[i], strlen(bad[i]), &rc, &err);
		if (rc != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK_INT(rc, -1);
		CHECK_INT(err.cls, ERR_SOURCE);
		CHECK(err.msg[0] != '\0');
		free(d);
	}
}

TEST(invalid_config_names_refused)
{
	static const char *const bad[] = {
		"\xc3",                 /* cut sequence */
		"\xc0\xaf",             /* overlong '/' */
		"\xed\xa0\x80",         /* a surrogate in UTF-8 */
		"\xf4\x90\x80\x80",     /* beyond U+10FFFF */
		"\xff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		char *e = enc(bad[i], &rc);
		CHECK_INT(rc, -1);
		free(e);
		CHECK(!imap_utf8_valid(bad[i], strlen(bad[i])));
	}
	CHECK(imap_utf8_valid("Поддержка", strlen("Поддержка")));
	CHECK(!imap_utf8_valid("a\0b", 3));
}

TEST(length_limits)
{
	size_t n = IMAP_MAILBOX_MAX + 1;
	char *s = malloc(n + 1);
	memset(s, 'a', n);
	s[n] = '\0';
	int rc;
	struct err err = {0};
	char *d = dec(s, n, &rc, &err);
	CHECK_INT(rc, -1);
	free(d);
	char *e = enc(s, &rc);
	CHECK_INT(rc, -1);
	free(e);
	/* 400 Cyrillic letters are 800 bytes of UTF-8 but ~1,070 encoded */
	char *cyr = malloc(801);
	for (size_t i = 0; i < 800; i += 2) {
		cyr[i] = '\xd0';
		cyr[i + 1] = '\x96';
	}
	cyr[800] = '\0';
	e = enc(cyr, &rc);
	CHECK_INT(rc, -1);
	free(e);
	free(cyr);
	free(s);
}

/*
 * Every prefix of every name (valid and invalid), decoded from a copy of
 * exactly that length (ASan catches a read past it): an error or a result
 * that encodes back to the same bytes, never anything else.
 */
TEST(every_prefix)
{
	static const char *const names[] = {
		"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "&BB8EPgQ0BDQENQRABDYEOgQw-", "A&-B&2D3eAA-x",
		"&2D3YPQ-", "&AMQ-&AMQ-", "INBOX.&AMQ-rger",
	};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		size_t len = strlen(names[k]);
		for (size_t n = 0; n <= len; n++) {
			char *copy = malloc(n ? n : 1);
			memcpy(copy, names[k], n);
			int rc, rc2;
			struct err err = {0};
			char *d = dec(copy, n, &rc, &err);
			if (rc == 0) {
				char *back = enc(d, &rc2);
				CHECK_INT(rc2, 0);
				CHECK(strlen(back) == n && memcmp(back, copy, n) == 0);
				free(back);
			} else {
				CHECK(err.msg[0] != '\0');
			}
			free(d);
			free(copy);
		}
	}
}

int main(void)
{
	RUN(known_names_both_ways);
	RUN(invalid_server_names_refused);
	RUN(invalid_config_names_refused);
	RUN(length_limits);
	RUN(every_prefix);
	return test_summary();
}
