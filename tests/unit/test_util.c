/* engine/util: buffers, arena, number parsing, log cleaning and redaction. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/util/arena.h"
#include "engine/util/buf.h"
#include "engine/util/err.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/utf8.h"
#include "engine/util/json.h"
#include "engine/util/xalloc.h"
#include "tests/unit/test.h"

TEST(buf_grows_and_caps)
{
	struct buf b;
	buf_init(&b, 10);
	CHECK(buf_adds(&b, "hello") == 0);
	CHECK(buf_addf(&b, "%d", 1234) == 0);
	CHECK_STR(buf_str(&b), "hello1234");
	CHECK(buf_adds(&b, "xy") < 0);
	CHECK(b.failed);
	CHECK(buf_addc(&b, 'z') < 0); /* sticky */
	CHECK_INT(b.len, 9);
	buf_reset(&b);
	CHECK(!b.failed);
	CHECK(buf_adds(&b, "0123456789") == 0);
	size_t len;
	char *s = buf_detach(&b, &len);
	CHECK_INT(len, 10);
	CHECK_STR(s, "0123456789");
	free(s);
	CHECK_INT(b.len, 0);
	buf_release(&b);
}

TEST(buf_rejects_overflowing_reserve)
{
	struct buf b;
	buf_init(&b, SIZE_MAX - 1);
	CHECK(buf_adds(&b, "a") == 0);
	CHECK(buf_reserve(&b, SIZE_MAX) < 0);
	CHECK(b.failed);
	buf_release(&b);
}

TEST(arena_allocates_aligned_and_resets)
{
	struct arena *a = arena_new();
	char *s = arena_strdup(a, "abc");
	CHECK_STR(s, "abc");
	void *p = arena_alloc(a, 3);
	CHECK(((uintptr_t)p % _Alignof(max_align_t)) == 0);
	char *big = arena_alloc(a, 100000);
	big[99999] = 'x';
	CHECK(arena_used(a) >= 100000);
	CHECK_STR(arena_printf(a, "%s-%d", "n", 7), "n-7");
	arena_reset(a);
	CHECK_INT(arena_used(a), 0);
	CHECK_STR(arena_memdup0(a, "xyz", 2), "xy");
	arena_free(&a);
	CHECK(a == NULL);
}

TEST(parses_numbers_with_overflow_checks)
{
	uint64_t v;
	CHECK(str_parse_u64("123", 3, UINT64_MAX, &v) == 0 && v == 123);
	CHECK(str_parse_u64("18446744073709551615", 20, UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(str_parse_u64("18446744073709551616", 20, UINT64_MAX, &v) < 0);
	CHECK(str_parse_u64("99999999999999999999999", 23, UINT64_MAX, &v) < 0);
	CHECK(str_parse_u64("65536", 5, 65535, &v) < 0);
	/* a single digit above a small max (POP3 message numbers against a count) */
	CHECK(str_parse_u64("2", 1, 1, &v) < 0);
	CHECK(str_parse_u64("9", 1, 8, &v) < 0);
	CHECK(str_parse_u64("1", 1, 1, &v) == 0 && v == 1);
	CHECK(str_parse_u64("", 0, 10, &v) < 0);
	CHECK(str_parse_u64("1a", 2, 100, &v) < 0);
	CHECK(str_parse_u64("-1", 2, 100, &v) < 0);
}

TEST(parses_sizes)
{
	uint64_t v;
	CHECK(str_parse_size("25MB", &v) == 0 && v == 25ULL * 1024 * 1024);
	CHECK(str_parse_size("512k", &v) == 0 && v == 512ULL * 1024);
	CHECK(str_parse_size("1 GiB", &v) == 0 && v == 1024ULL * 1024 * 1024);
	CHECK(str_parse_size("100", &v) == 0 && v == 100);
	CHECK(str_parse_size("10 TB", &v) < 0);
	CHECK(str_parse_size("MB", &v) < 0);
	CHECK(str_parse_size("99999999999999999999GB", &v) < 0);
	CHECK(str_parse_size("20000000000GB", &v) < 0);
	char out[32];
	CHECK_STR(str_fmt_size(25ULL * 1024 * 1024, out, sizeof(out)), "25 MB");
	CHECK_STR(str_fmt_size(1500, out, sizeof(out)), "1.5 KB");
	CHECK_STR(str_fmt_size(1000, out, sizeof(out)), "1000 B");
}

TEST(parses_durations)
{
	uint64_t v;
	CHECK(str_parse_duration_ms("30s", &v) == 0 && v == 30000);
	CHECK(str_parse_duration_ms("500ms", &v) == 0 && v == 500);
	CHECK(str_parse_duration_ms("2m", &v) == 0 && v == 120000);
	CHECK(str_parse_duration_ms("1h", &v) == 0 && v == 3600000);
	CHECK(str_parse_duration_ms("45", &v) == 0 && v == 45000);
	CHECK(str_parse_duration_ms("5 days", &v) < 0);
	CHECK(str_parse_duration_ms("", &v) < 0);
	char out[32];
	CHECK_STR(str_fmt_duration_ms(7200000, out, sizeof(out)), "2h");
	CHECK_STR(str_fmt_duration_ms(90000, out, sizeof(out)), "90s");
	CHECK_STR(str_fmt_duration_ms(120000, out, sizeof(out)), "2m");
	CHECK_STR(str_fmt_duration_ms(1500, out, sizeof(out)), "1500ms");
	CHECK_STR(str_fmt_duration_ms(0, out, sizeof(out)), "0ms");
}

TEST(log_clean_escapes_and_cuts)
{
	char out[16];
	const char *in = "a\"b\\c\r\nd";
	CHECK_STR(log_clean(in, strlen(in), out, sizeof(out)), "a\\\"b\\\\c??d");
	const char *longer = "0123456789abcdefghij";
	CHECK_STR(log_clean(longer, strlen(longer), out, sizeof(out)), "0123456789ab...");
	/* never half a UTF-8 character: "é" is 2 bytes */
	const char *utf = "abcdefghijkl\xc3\xa9xyz";
	log_clean(utf, strlen(utf), out, sizeof(out));
	CHECK_STR(out, "abcdefghijkl...");
	const char *utf2 = "abcdefghijk\xc3\xa9xyzw";
	log_clean(utf2, strlen(utf2), out, sizeof(out));
	CHECK_STR(out, "abcdefghijk...");
}

/* Runs log_msg with stderr sent to a temp file and returns what was written. */
static char *capture_log(const char *secret_in_line)
{
	char path[] = "/tmp/m2t-log-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return xstrdup("");
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	log_ctx_set("job1", "acct");
	log_ctx_uid(42);
	log_info("test.event", "token=%s", secret_in_line);
	log_ctx_set(NULL, NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[1024] = {0};
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	return xstrdup(n > 0 ? buf : "");
}

TEST(log_redacts_registered_secrets)
{
	log_add_secret("hunter2-secret");
	char *line = capture_log("xx-hunter2-secret-yy");
	CHECK(strstr(line, "hunter2") == NULL);
	CHECK(strstr(line, "token=xx-***-yy") != NULL);
	CHECK(strstr(line, "job=job1 account=acct uid=42") != NULL);
	CHECK(strstr(line, "level=info event=test.event") != NULL);
	free(line);
	log_clear_secrets();
}

TEST(display_width_counts_columns)
{
	CHECK_INT(str_display_width("abc"), 3);
	CHECK_INT(str_display_width("J\xc3\xbcrgen"), 6);           /* Jürgen */
	CHECK_INT(str_display_width("\xe4\xbd\x90\xe8\x97\xa4"), 4);  /* 佐藤 */
	CHECK_INT(str_display_width("e\xcc\x81"), 1);               /* e + combining acute */
	CHECK_INT(str_display_width("\xe4\xbd"), 1);                /* cut sequence */
	CHECK_INT(str_display_width(""), 0);
}

TEST(err_classes_and_prefix)
{
	struct err e = {0};
	CHECK(err_set(&e, ERR_TRANSIENT, "connect %s", "refused") == -1);
	err_prefix(&e, "imap %d", 1);
	CHECK_STR(e.msg, "imap 1: connect refused");
	CHECK_STR(err_class_name(e.cls), "transient");
	err_clear(&e);
	CHECK(e.cls == ERR_NONE && e.msg[0] == '\0');
}

/* RFC 3629 strictly: overlongs, surrogates, past U+10FFFF, truncated. */
TEST(utf8_decode_is_strict)
{
	uint32_t cp = 0;
#define DEC(str) utf8_decode((const unsigned char *)(str), sizeof(str) - 1, &cp)
	CHECK_INT(DEC("A"), 1);
	CHECK_INT(cp, 'A');
	CHECK_INT(DEC("\xC3\xA9"), 2);
	CHECK_INT(cp, 0xE9);
	CHECK_INT(DEC("\xE2\x82\xAC"), 3);
	CHECK_INT(cp, 0x20AC);
	CHECK_INT(DEC("\xF0\x9F\x98\x80"), 4);
	CHECK_INT(cp, 0x1F600);
	CHECK_INT(DEC("\xC0\xAF"), 0);              /* overlong '/' */
	CHECK_INT(DEC("\xE0\x80\xAF"), 0);          /* overlong, 3 bytes */
	CHECK_INT(DEC("\xED\xA0\x80"), 0);          /* surrogate */
	CHECK_INT(DEC("\xF4\x90\x80\x80"), 0);      /* past U+10FFFF */
	CHECK_INT(DEC("\xE2\x82"), 0);              /* truncated */
	CHECK_INT(DEC("\x80"), 0);                  /* a lone continuation byte */
	CHECK_INT(utf8_decode((const unsigned char *)"", 0, &cp), 0);
	CHECK_INT(utf8_decode((const unsigned char *)"\0", 1, NULL), 1);
#undef DEC
}

TEST(json_strings_are_always_valid)
{
	struct buf b;
	buf_init(&b, 1024);
	json_add_string(&b, "a\"b\\\n\x01\xff\0\xe2\x80\xa8z", 12);
	CHECK_STR(buf_str(&b), "\"a\\\"b\\\\\\n\\u0001\\ufffd\\ufffd\\u2028z\"");
	buf_reset(&b);
	json_add_str(&b, NULL);
	CHECK_STR(buf_str(&b), "null");
	buf_reset(&b);
	buf_addc(&b, '{');
	json_add_key(&b, "n", 1);
	json_add_i64(&b, -42);
	json_add_key(&b, "s", 0);
	json_add_str(&b, "é");
	buf_addc(&b, '}');
	CHECK_STR(buf_str(&b), "{\"n\":-42,\"s\":\"é\"}");
	buf_release(&b);
}

TEST(dirname_of_paths)
{
	char *d = str_dirname("/etc/mail2ticket/rules.yaml");
	CHECK_STR(d, "/etc/mail2ticket");
	free(d);
	d = str_dirname("rules.yaml");
	CHECK_STR(d, ".");
	free(d);
	d = str_dirname("/rules.yaml");
	CHECK_STR(d, "/");
	free(d);
	d = str_dirname("a/b/");
	CHECK_STR(d, "a/b");
	free(d);
}

int main(void)
{
	RUN(buf_grows_and_caps);
	RUN(buf_rejects_overflowing_reserve);
	RUN(arena_allocates_aligned_and_resets);
	RUN(parses_numbers_with_overflow_checks);
	RUN(parses_sizes);
	RUN(parses_durations);
	RUN(log_clean_escapes_and_cuts);
	RUN(log_redacts_registered_secrets);
	RUN(display_width_counts_columns);
	RUN(err_classes_and_prefix);
	RUN(utf8_decode_is_strict);
	RUN(json_strings_are_always_valid);
	RUN(dirname_of_paths);
	return test_summary();
}
