/*
 * IMAP IDLE (imap_idle.h) against a scripted fake server: new mail seen by
 * EXISTS, the re-issue (DONE, IDLE again) after a short interval, NOOP
 * polling when the server has no IDLE, a stalled server, BYE, responses
 * split byte by byte, and a clean end (DONE, LOGOUT). Every wait is bounded
 * (no timed assertions: the loop below runs until a condition or a cap).
 */
#include <poll.h>
#include <signal.h>

#include "engine/fetch/imap_idle.h"
#include "engine/util/log.h"
#include "tests/unit/imap_script.h"

static struct imap_idle *idle_open(struct server *s, const struct imap_idle_opts *o)
{
	struct config_account acc = account(s->port, SEC_NONE);
	struct imap_client *c = NULL;
	struct imap_idle *i = NULL;
	struct err err = {0};
	uint32_t uv, ex;
	if (imap_connect(&acc, NULL, &c, &err) < 0 ||
	    imap_select(c, "INBOX", true, &uv, &ex, &err) < 0) {
		fprintf(stderr, "  connect: %s\n", err.msg);
		imap_client_free(&c);
		return NULL;
	}
	if (imap_idle_new(&c, o, imap_idle_now_ms(), &i, &err) < 0)
		fprintf(stderr, "  idle: %s\n", err.msg);
	return i;
}

/*
 * Steps until `want_mail` mail reports, or `want_issued` IDLE commands, or
 * an error; at most ~10 s of waiting. 1: mail seen; 0: condition reached
 * without mail; -1: error (err).
 */
static int run_until(struct imap_idle *i, bool want_mail, unsigned want_issued, struct err *err)
{
	for (int n = 0; n < 2000; n++) {
		uint64_t now = imap_idle_now_ms();
		uint64_t dl = imap_idle_deadline(i);
		int wait = dl <= now ? 0 : dl - now > 5 ? 5 : (int)(dl - now);
		struct pollfd p = {.fd = imap_idle_fd(i), .events = POLLIN};
		(void)poll(&p, 1, wait);
		bool mail = false;
		if (imap_idle_step(i, imap_idle_now_ms(), &mail, err) < 0)
			return -1;
		if (mail && want_mail)
			return 1;
		if (!want_mail && imap_idle_issued(i) >= want_issued)
			return 0;
	}
	return -2;
}

#define OPEN_STEPS(caps) LOGIN_STEPS(caps), EXPECT("A0002 EXAMINE \"INBOX\""), \
	SEND("* 3 EXISTS\r\n* OK [UIDVALIDITY 42] ok\r\nA0002 OK [READ-ONLY] x\r\n")

TEST(idle_new_mail_and_clean_end)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SEND("+ idling\r\n"),
		/* an expunge, then a count equal to the old one: no new mail */
		SEND("* 2 EXPUNGE\r\n* 3 EXISTS\r\n"),
		SEND("* 1 FETCH (FLAGS (\\Seen))\r\n"),
		EXPECT("DONE"), EXPECT("A0004 LOGOUT"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle *i = idle_open(&s, NULL);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK(!imap_idle_polling(i));
		/* EXPUNGE then EXISTS 3 again: 3 > 2, that is new mail */
		CHECK_INT(run_until(i, true, 0, &err), 1);
		imap_idle_free(&i);
	}
	CHECK(i == NULL);
	server_join(&s, NULL);
}

TEST(idle_equal_count_is_not_mail)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SEND("+ idling\r\n"),
		SEND("* 3 EXISTS\r\n* 1 FETCH (FLAGS ())\r\n* 1 RECENT\r\n"),
		/* the re-issue comes, and no mail was reported before it */
		EXPECT("DONE"), SEND("A0003 OK idle done\r\n"),
		EXPECT("A0004 IDLE"), SEND("+ idling\r\n* 4 EXISTS\r\n"),
		EXPECT("DONE"), EXPECT("A0005 LOGOUT"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle_opts o = {.reissue_ms = 300};
	struct imap_idle *i = idle_open(&s, &o);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		int r = run_until(i, true, 0, &err);
		CHECK_INT(r, 1);
		CHECK_INT(imap_idle_issued(i), 2);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

TEST(idle_reissued_before_interval)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SEND("+ idling\r\n"),
		EXPECT("DONE"), SEND("A0003 OK done\r\n"),
		EXPECT("A0004 IDLE"), SEND("+ idling\r\n"),
		EXPECT("DONE"), SEND("A0004 OK done\r\n"),
		EXPECT("A0005 IDLE"), SEND("+ idling\r\n"),
		EXPECT("DONE"), EXPECT("A0006 LOGOUT"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle_opts o = {.reissue_ms = 50};
	struct imap_idle *i = idle_open(&s, &o);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK_INT(run_until(i, false, 3, &err), 0);
		/* wait for the third "+" before ending */
		for (int n = 0; n < 200 && imap_idle_deadline(i) > imap_idle_now_ms() + 60; n++) {
			bool m;
			poll(NULL, 0, 5);
			CHECK(imap_idle_step(i, imap_idle_now_ms(), &m, &err) == 0);
		}
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

TEST(noop_polling_without_idle)
{
	static const struct step steps[] = {
		OPEN_STEPS("MOVE"),
		EXPECT("A0003 NOOP"), SEND("A0003 OK nothing\r\n"),
		EXPECT("A0004 NOOP"), SEND("* 5 EXISTS\r\nA0004 OK new\r\n"),
		EXPECT("A0005 LOGOUT"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle_opts o = {.poll_ms = 30};
	struct imap_idle *i = idle_open(&s, &o);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK(imap_idle_polling(i));
		CHECK_INT(run_until(i, true, 0, &err), 1);
		CHECK_INT(imap_idle_issued(i), 0);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

TEST(stalled_server_fails_the_step)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SLEEP(1500), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle_opts o = {.answer_ms = 100};
	struct imap_idle *i = idle_open(&s, &o);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK_INT(run_until(i, true, 0, &err), -1);
		CHECK_INT(err.cls, ERR_TRANSIENT);
		CHECK(strstr(err.msg, "stalled") != NULL);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

TEST(bye_and_close_end_it)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SEND("+ idling\r\n"),
		SEND("* BYE shutting down\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle *i = idle_open(&s, NULL);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK_INT(run_until(i, true, 0, &err), -1);
		CHECK(strstr(err.msg, "BYE") != NULL);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

/* The EXISTS line and the "+" arrive one byte per send. */
TEST(responses_split_byte_by_byte)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"),
		SEND("+"), SEND(" "), SEND("i"), SEND("\r"), SEND("\n"),
		SEND("*"), SEND(" "), SEND("9"), SEND(" "), SEND("EXI"), SEND("S"), SEND("TS"),
		SEND("\r"), SEND("\n"),
		EXPECT("DONE"), EXPECT("A0004 LOGOUT"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle *i = idle_open(&s, NULL);
	struct err err = {0};
	CHECK(i != NULL);
	if (i) {
		CHECK_INT(run_until(i, true, 0, &err), 1);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

TEST(unexpected_tag_is_protocol_error)
{
	static const struct step steps[] = {
		OPEN_STEPS("IDLE"),
		EXPECT("A0003 IDLE"), SEND("+ idling\r\nZ999 OK what\r\n"), END,
	};
	struct server s;
	server_start(&s, steps);
	struct imap_idle *i = idle_open(&s, NULL);
	struct err err = {0};
	if (i) {
		CHECK_INT(run_until(i, true, 0, &err), -1);
		CHECK_INT(err.cls, ERR_SOURCE);
		imap_idle_free(&i);
	}
	server_join(&s, NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERROR);
	RUN(idle_new_mail_and_clean_end);
	RUN(idle_equal_count_is_not_mail);
	RUN(idle_reissued_before_interval);
	RUN(noop_polling_without_idle);
	RUN(stalled_server_fails_the_step);
	RUN(bye_and_close_end_it);
	RUN(responses_split_byte_by_byte);
	RUN(unexpected_tag_is_protocol_error);
	return test_summary();
}
