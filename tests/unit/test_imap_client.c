/*
 * The IMAP client after login against a scripted fake server
 * (script_server.h): fetching, listing, moving, resolving mailbox names,
 * and the hostile responses a real server will not produce (literal sizes,
 * truncated literals, NUL bytes, 10 MB lines, stalled and trickling
 * servers); and the net layer's line reader. Every wait is bounded.
 */
#include <signal.h>

#include "engine/net/net.h"
#include "engine/util/log.h"
#include "tests/unit/imap_script.h"

static void fetch_no(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	CHECK_INT(uv, 42);
	CHECK_INT(ex, 3);
	uint32_t uids[] = {3, 1, 2, 7, 2};
	CHECK(imap_fetch_bodies(c, uids, 5, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	/* only what the server really sent; the unrequested UID 9 is ignored */
	CHECK_STR(got, "1:he)\r\nlo;");
}

TEST(fetch_tagged_no_fails)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 3),
		EXPECT("A0003 UID FETCH 1:3,7 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {7}\r\nhe)\r\nlo)\r\n"
		     "* 9 FETCH (UID 9 BODY[] {1}\r\nx)\r\n"
		     "* 2 FETCH (FLAGS (\\Seen))\r\n"
		     "A0003 NO Some messages could not be FETCHed\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, fetch_no);
}

static void fetch_ok(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uids[] = {4, 5};
	CHECK(imap_fetch_headers(c, uids, 2, collect_cb, got, &err) == 0);
	CHECK_STR(got, "4:H4;5:;");
}

TEST(fetch_headers_ok)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 2),
		EXPECT("A0003 UID FETCH 4:5 (UID BODY.PEEK[HEADER])"),
		SEND("* 1 FETCH (UID 4 BODY[HEADER] {2}\r\nH4)\r\n"
		     "* 2 FETCH (BODY[HEADER] \"\" UID 5)\r\nA0003 OK done\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, fetch_ok);
}

static void list_msgs(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	struct imap_msg_info *v = NULL;
	size_t n = 0;
	CHECK(imap_list_messages(c, &v, &n, &err) == 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(v[0].uid, 7);
		CHECK_INT(v[0].size, 70);
		CHECK_INT(v[1].uid, 10);
		CHECK_INT(v[1].size, 100);
	}
	free(v);
}

TEST(list_skips_deleted_and_sorts)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 4),
		EXPECT("A0003 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"),
		SEND("* 1 FETCH (UID 10 RFC822.SIZE 100 FLAGS (\\Seen))\r\n"
		     "* 2 FETCH (UID 5 RFC822.SIZE 50 FLAGS (\\Seen \\Deleted))\r\n"
		     "* 3 FETCH (UID 7 RFC822.SIZE 70 FLAGS ())\r\n"
		     "* 3 FETCH (FLAGS (\\Seen))\r\nA0003 OK done\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, list_msgs);
}

static void list_empty(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", true, &uv, &ex, &err) == 0);
	struct imap_msg_info *v = NULL;
	size_t n = 9;
	CHECK(imap_list_messages(c, &v, &n, &err) == 0);
	CHECK_INT(n, 0);
	CHECK(v == NULL);
}

TEST(list_empty_mailbox_sends_no_fetch)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 EXAMINE \"INBOX\""),
		SEND("* 0 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0002 OK [READ-ONLY] x\r\n"),
		LOGOUT_STEPS("A0003"), END,
	};
	session(steps, NULL, 0, list_empty);
}

static void big_literal(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_MESSAGE);
	CHECK_STR(got, "");
	/* the stream is out of step now: later calls fail, nothing is sent */
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

/* Records "uid:body;" per message, and "uid:dropped(size);" for raw NULL. */
static int note_cb(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	char *out = ud;
	size_t n = strlen(out);
	(void)err;
	if (raw)
		snprintf(out + n, 256 - n, "%u:%.*s;", uid, (int)len, raw);
	else
		snprintf(out + n, 256 - n, "%u:dropped(%zu);", uid, len);
	return 0;
}

static void literal_dropped(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uids[] = {1, 2};
	CHECK(imap_fetch_bodies(c, uids, 2, note_cb, got, &err) == 0);
	CHECK_STR(got, "1:dropped(300);2:abc;");
	/* the session is still in step: the next command works */
	CHECK(imap_fetch_bodies(c, uids + 1, 1, note_cb, got, &err) == 0);
	CHECK_STR(got, "1:dropped(300);2:abc;2:def;");
}

TEST(literal_over_limit_dropped_session_goes_on)
{
	/* listed small, sent as 300 bytes against a limit of 100: read to its
	 * end and dropped (the job makes it badmail), the next message comes */
	static char big[400];
	memcpy(big, "* 1 FETCH (UID 1 BODY[] {300}\r\n", 31);
	memset(big + 31, 'x', 300);
	memcpy(big + 331, ")\r\n* 2 FETCH (UID 2 BODY[] {3}\r\nabc)\r\nA0003 OK done\r\n", 53);
	const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 2),
		EXPECT("A0003 UID FETCH 1:2 (UID BODY.PEEK[])"),
		{S_SEND, big, 384},
		EXPECT("A0004 UID FETCH 2 (UID BODY.PEEK[])"),
		SEND("* 2 FETCH (UID 2 BODY[] {3}\r\ndef)\r\nA0004 OK done\r\n"),
		LOGOUT_STEPS("A0005"), END,
	};
	struct imap_limits lim = {.max_line = 1024, .max_literal = 100};
	session(steps, &lim, 0, literal_dropped);
}

TEST(literal_over_limit_refused)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		/* more than four times the limit: not even read to drop it */
		SEND("* 1 FETCH (UID 1 BODY[] {1000}\r\n"), END,
	};
	struct imap_limits lim = {.max_line = 1024, .max_literal = 100};
	session(steps, &lim, 0, big_literal);
}

static void stalled(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(strstr(err.msg, "timed out") != NULL);
	CHECK_STR(got, "");
}

TEST(server_stops_mid_literal)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {100}\r\nabc"), SLEEP(900), END,
	};
	session(steps, NULL, 300, stalled);
}

/* What a hostile FETCH response must end in: this class, this text, nothing delivered. */
static enum err_class want_cls;
static const char *want_text;

static void fetch_fails(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	char got[256] = "";
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 1;
	CHECK(imap_fetch_bodies(c, &uid, 1, collect_cb, got, &err) < 0);
	CHECK_INT(err.cls, want_cls);
	if (!strstr(err.msg, want_text)) {
		fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err.msg, want_text);
		test_failed_now = 1;
	}
	CHECK_STR(got, "");
	/* the stream is out of step: nothing more is sent (server_finish checks) */
	uint32_t v[] = {1};
	CHECK(imap_move(c, v, 1, "Done", &err) < 0);
}

#define FETCH_PRELUDE                                                                  \
	LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),                                 \
	EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])")

TEST(literal_sizes_from_hostile_servers)
{
	/* 4 GiB - 1: over any limit, refused before a byte of it is read */
	static const struct step huge[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {4294967295}\r\nabc"), END,
	};
	want_cls = ERR_MESSAGE;
	want_text = "larger than the limit";
	session(huge, NULL, 0, fetch_fails);
	static const struct step negative[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {-1}\r\nabc)\r\n"), END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(negative, NULL, 0, fetch_fails);
	/* past 64 bits: read as "too big", never wrapped around to a small size */
	static const struct step overflow[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {99999999999999999999999}\r\n"), END,
	};
	want_cls = ERR_MESSAGE;
	want_text = "larger than the limit";
	session(overflow, NULL, 0, fetch_fails);
}

TEST(truncated_literal_and_garbage)
{
	static const struct step truncated[] = {
		FETCH_PRELUDE, SEND("* 1 FETCH (UID 1 BODY[] {100}\r\nabc"), CLOSE, END,
	};
	want_cls = ERR_TRANSIENT;
	want_text = "connection closed";
	session(truncated, NULL, 0, fetch_fails);
	static const struct step nul[] = {
		FETCH_PRELUDE, {S_SEND, "* 1 FETCH (UID 1\0 BODY[] {3}\r\nabc)\r\n", 36}, END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(nul, NULL, 0, fetch_fails);
	static const struct step garbage[] = {
		FETCH_PRELUDE, SEND("\x01\x02\xff\xfe garbage ((((\r\n"), END,
	};
	session(garbage, NULL, 0, fetch_fails);
}

TEST(ten_megabyte_line_refused_early)
{
	size_t n = 10 * 1024 * 1024;
	char *line = malloc(n + 64);
	int o = snprintf(line, 64, "* 1 FETCH (UID 1 BODY[] \"");
	memset(line + o, 'a', n);
	memcpy(line + o + n, "\")\r\n", 4);
	struct step steps[] = {
		FETCH_PRELUDE, {S_SEND, line, (size_t)o + n + 4}, END,
	};
	want_cls = ERR_SOURCE;
	want_text = "protocol error";
	session(steps, NULL, 0, fetch_fails);
	free(line);
}

/* A server that trickles bytes: each read is quick, the whole session is not. */
TEST(session_timeout_bounds_a_trickling_server)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), SELECT_STEPS("A0002", 1),
		EXPECT("A0003 UID FETCH 1 (UID BODY.PEEK[])"),
		SEND("* 1 FETCH (UID 1 BODY[] {100}\r\na"), SLEEP(150), SEND("b"), SLEEP(150),
		SEND("c"), SLEEP(150), SEND("d"), SLEEP(150), SEND("e"), SLEEP(150), END,
	};
	struct server s;
	server_start(&s, steps);
	struct config_account acc = account(s.port, SEC_NONE);
	acc.io_timeout_ms = 1000;
	acc.session_timeout_ms = 400;
	struct imap_client *c = NULL;
	struct err err = {0};
	CHECK(imap_connect(&acc, NULL, &c, &err) == 0);
	if (c) {
		want_cls = ERR_TRANSIENT;
		want_text = "session time limit of 400 ms reached";
		fetch_fails(c);
	}
	imap_client_free(&c);
	server_finish(&s);
}

static void closed(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
}

TEST(server_closes_mid_response)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 SELECT \"INBOX\""), SEND("* 3 EXI"), END,
	};
	session(steps, NULL, 0, closed);
}

static void do_move(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uids[] = {9, 1, 2, 3, 5};
	CHECK(imap_move(c, uids, 5, "Done", &err) == 0);
}

TEST(move_with_move)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID MOVE 1:3,5,9 \"Done\""),
		SEND("* OK [COPYUID 1 1:3,5,9 1:5] x\r\n* 1 EXPUNGE\r\nA0003 OK moved\r\n"),
		LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, do_move);
}

TEST(move_after_expunge_issued_tries_once_more)
{
	/* another session moved some of them first (RFC 5530): NOOP to hear
	 * of it, then the same MOVE again for the rest; a second refusal stops */
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID MOVE 1:3,5,9 \"Done\""),
		SEND("A0003 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n"),
		EXPECT("A0004 NOOP"), SEND("* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nA0004 OK done\r\n"),
		EXPECT("A0005 UID MOVE 1:3,5,9 \"Done\""),
		SEND("* 1 EXPUNGE\r\nA0005 OK moved\r\n"),
		LOGOUT_STEPS("A0006"), END,
	};
	session(steps, NULL, 0, do_move);
}

TEST(move_with_uidplus)
{
	static const struct step steps[] = {
		LOGIN_STEPS("UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 1:3,5,9 \"Done\""), SEND("A0003 OK copied\r\n"),
		EXPECT("A0004 UID STORE 1:3,5,9 +FLAGS.SILENT (\\Deleted)"),
		SEND("A0004 OK stored\r\n"),
		EXPECT("A0005 UID EXPUNGE 1:3,5,9"), SEND("A0005 OK gone\r\n"),
		LOGOUT_STEPS("A0006"), END,
	};
	session(steps, NULL, 0, do_move);
}

TEST(move_without_uidplus_never_expunges)
{
	static const struct step steps[] = {
		LOGIN_STEPS("IDLE"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 1:3,5,9 \"Done\""), SEND("A0003 OK copied\r\n"),
		EXPECT("A0004 UID STORE 1:3,5,9 +FLAGS.SILENT (\\Deleted)"),
		SEND("A0004 OK stored\r\n"), LOGOUT_STEPS("A0005"), END,
	};
	session(steps, NULL, 0, do_move);
}

static void move_fails(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) == 0);
	uint32_t uid = 4;
	CHECK(imap_move(c, &uid, 1, "Done", &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(move_copy_refused_stops)
{
	static const struct step steps[] = {
		LOGIN_STEPS("UIDPLUS"), SELECT_STEPS("A0002", 5),
		EXPECT("A0003 UID COPY 4 \"Done\""),
		SEND("A0003 NO [TRYCREATE] no such mailbox\r\n"), LOGOUT_STEPS("A0004"), END,
	};
	session(steps, NULL, 0, move_fails);
}

static void resolve(struct imap_client *c)
{
	struct err err = {0};
	char *name = NULL;
	CHECK(imap_resolve_mailbox(c, "INBOX/Support", false, &name, &err) == 0);
	CHECK_STR(name, "INBOX.Support");
	free(name);
	CHECK(imap_resolve_mailbox(c, "Archive/2024", true, &name, &err) == 0);
	CHECK_STR(name, "Archive.2024");
	free(name);
	CHECK(imap_resolve_mailbox(c, "Missing", false, &name, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(name == NULL);
}

TEST(resolve_mailbox_names)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"),
		EXPECT("A0002 LIST \"\" \"\""),
		SEND("* LIST (\\Noselect) \".\" \"\"\r\nA0002 OK x\r\n"),
		EXPECT("A0003 LIST \"\" \"INBOX/Support\""), SEND("A0003 OK x\r\n"),
		EXPECT("A0004 LIST \"\" \"INBOX.Support\""),
		SEND("* LIST (\\HasNoChildren) \".\" INBOX.Support\r\nA0004 OK x\r\n"),
		EXPECT("A0005 LIST \"\" \"Archive/2024\""), SEND("A0005 OK x\r\n"),
		EXPECT("A0006 LIST \"\" \"Archive.2024\""),
		SEND("* LIST (\\NonExistent) \".\" Archive.2024\r\nA0006 OK x\r\n"),
		EXPECT("A0007 CREATE \"Archive.2024\""), SEND("A0007 OK created\r\n"),
		EXPECT("A0008 SUBSCRIBE \"Archive.2024\""), SEND("A0008 NO whatever\r\n"),
		EXPECT("A0009 LIST \"\" \"Missing\""), SEND("A0009 OK x\r\n"),
		LOGOUT_STEPS("A0010"), END,
	};
	session(steps, NULL, 0, resolve);
}

static void wrong_tag(struct imap_client *c)
{
	uint32_t uv, ex;
	struct err err = {0};
	CHECK(imap_select(c, "INBOX", false, &uv, &ex, &err) < 0);
	CHECK_INT(err.cls, ERR_SOURCE);
}

TEST(unknown_tag_is_protocol_error)
{
	static const struct step steps[] = {
		LOGIN_STEPS("MOVE"), EXPECT("A0002 SELECT \"INBOX\""), SEND("B0002 OK x\r\n"), END,
	};
	session(steps, NULL, 0, wrong_tag);
}

static int count_cb(void *ud, const char *data, size_t len, struct err *err)
{
	size_t *n = ud;
	(void)data;
	(void)err;
	*n += len;
	return 0;
}

/* The net layer's line reader and exact reads (used by POP3 and others). */
TEST(net_line_reader)
{
	static const struct step steps[] = {
		SEND("+OK hello\r\nbare lf\n0123456789"), SLEEP(50),
		SEND("abcdef\r\nEXACT12345"),
		SEND("0123456789012345678901234567890123456789"),
		SEND("x123456789012345678901234567890\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct net_conn *c = NULL;
	struct err err = {0};
	const char *line;
	size_t len, n = 0;
	CHECK(net_conn_open("127.0.0.1", s.port, NULL, 2000, &c, &err) == 0);
	if (c) {
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "+OK hello");
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "bare lf");
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) == 0);
		CHECK_STR(line, "0123456789abcdef");
		struct buf b;
		buf_init(&b, 10);
		CHECK(net_conn_read_exact_buf(c, 11, &b, &err) < 0);
		CHECK_INT(err.cls, ERR_MESSAGE);
		CHECK(net_conn_read_exact_buf(c, 10, &b, &err) == 0);
		CHECK_STR(buf_str(&b), "EXACT12345");
		buf_release(&b);
		CHECK(net_conn_read_exact(c, 40, count_cb, &n, &err) == 0);
		CHECK_INT(n, 40);
		/* 31 bytes before CRLF: over a limit of 20, refused */
		CHECK(net_conn_read_line(c, 20, &line, &len, &err) < 0);
		CHECK_INT(err.cls, ERR_SOURCE);
		CHECK(net_conn_read_line(c, 100, &line, &len, &err) < 0);
		CHECK_INT(err.cls, ERR_TRANSIENT);
	}
	net_conn_free(&c);
	CHECK(c == NULL);
	server_finish(&s);
}

TEST(net_connect_refused)
{
	/* a port nobody listens on: bind one, close it, connect */
	struct server s;
	static const struct step none[] = {END};
	server_start(&s, none);
	unsigned port = s.port;
	struct net_conn *c = NULL;
	struct err err = {0};
	/* let the server thread accept and finish first */
	CHECK(net_conn_open("127.0.0.1", port, NULL, 2000, &c, &err) == 0);
	net_conn_free(&c);
	server_finish(&s);
	CHECK(net_conn_open("127.0.0.1", port, NULL, 2000, &c, &err) < 0);
	CHECK_INT(err.cls, ERR_TRANSIENT);
	CHECK(c == NULL);
}

/*
 * A server whose accept queue is full: the kernel drops further SYNs, so
 * connect() hangs. connect_timeout, not timeout, bounds the wait.
 */
int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(fetch_tagged_no_fails);
	RUN(fetch_headers_ok);
	RUN(list_skips_deleted_and_sorts);
	RUN(list_empty_mailbox_sends_no_fetch);
	RUN(literal_over_limit_refused);
	RUN(literal_over_limit_dropped_session_goes_on);
	RUN(server_stops_mid_literal);
	RUN(server_closes_mid_response);
	RUN(literal_sizes_from_hostile_servers);
	RUN(truncated_literal_and_garbage);
	RUN(ten_megabyte_line_refused_early);
	RUN(session_timeout_bounds_a_trickling_server);
	RUN(move_with_move);
	RUN(move_after_expunge_issued_tries_once_more);
	RUN(move_with_uidplus);
	RUN(move_without_uidplus_never_expunges);
	RUN(move_copy_refused_stops);
	RUN(resolve_mailbox_names);
	RUN(unknown_tag_is_protocol_error);
	RUN(net_line_reader);
	RUN(net_connect_refused);
	log_clear_secrets();
	return test_summary();
}
