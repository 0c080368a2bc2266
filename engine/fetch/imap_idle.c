/*
 * SECURITY: reads untrusted server responses through the bounded parser,
 * at most IMAP_IDLE_MAX_RESPONSES per step; server text is cleaned before
 * it is logged.
 *
 * The IDLE state machine (imap_idle.h). Why it never waits: the daemon runs
 * thousands of these on one thread, so a read takes only what the socket
 * (or OpenSSL's buffer) already holds, and the only writes are a few bytes
 * ("DONE", "TAG IDLE", "TAG NOOP") on a socket whose send buffer is empty
 * in practice; they are bounded by IDLE_WRITE_MS all the same.
 */
#include "engine/fetch/imap_idle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/fetch/imap_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define IDLE_WRITE_MS 2000

enum idle_state {
	ST_WAIT_CONT,   /* IDLE sent, "+" awaited */
	ST_IDLING,      /* in IDLE until the re-issue time */
	ST_WAIT_DONE,   /* DONE sent, the tagged OK awaited */
	ST_POLL_WAIT,   /* polling: waiting for the next NOOP time */
	ST_WAIT_NOOP,   /* NOOP sent, its tagged OK awaited */
};

struct imap_idle {
	struct imap_client *c;
	struct imap_idle_opts o;
	enum idle_state st;
	bool poll;
	uint64_t deadline;
	uint32_t count;          /* messages known in the mailbox */
	unsigned issued;
	bool mail;               /* new mail seen, not reported yet */
};

uint64_t imap_idle_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int send_cmd(struct imap_idle *i, const char *verb, struct err *err)
{
	struct imap_client *c = i->c;
	imap_cmd_begin(c, verb);
	buf_adds(&c->cmd, "\r\n");
	log_debug("imap.send", "line=\"%s %s\"", c->tag, verb);
	if (net_conn_write(c->conn, c->cmd.data, c->cmd.len, err) < 0) {
		c->broken = true;
		return -1;
	}
	return 0;
}

static int start_idle(struct imap_idle *i, uint64_t now, struct err *err)
{
	if (send_cmd(i, "IDLE", err) < 0)
		return -1;
	i->issued++;
	i->st = ST_WAIT_CONT;
	i->deadline = now + i->o.answer_ms;
	return 0;
}

static int stalled(struct imap_idle *i, const char *what, struct err *err)
{
	i->c->broken = true;
	return err_set(err, ERR_TRANSIENT, "%s did not answer %s within %llu ms (stalled)",
		       i->c->host, what, (unsigned long long)i->o.answer_ms);
}

/* The timers: re-issue, NOOP time, or an answer that did not come. */
static int on_time(struct imap_idle *i, uint64_t now, struct err *err)
{
	if (now < i->deadline)
		return 0;
	switch (i->st) {
	case ST_WAIT_CONT:
		return stalled(i, "IDLE", err);
	case ST_WAIT_DONE:
		return stalled(i, "DONE", err);
	case ST_WAIT_NOOP:
		return stalled(i, "NOOP", err);
	case ST_IDLING:
		/* RFC 2177: servers may log out an IDLE after 30 minutes */
		log_debug("imap.idle_reissue", "host=%s", i->c->host);
		if (net_conn_write(i->c->conn, "DONE\r\n", 6, err) < 0) {
			i->c->broken = true;
			return -1;
		}
		i->st = ST_WAIT_DONE;
		i->deadline = now + i->o.answer_ms;
		return 0;
	case ST_POLL_WAIT:
		if (send_cmd(i, "NOOP", err) < 0)
			return -1;
		i->st = ST_WAIT_NOOP;
		i->deadline = now + i->o.answer_ms;
		return 0;
	}
	return 0;
}

static bool is_our_tag(const struct imap_client *c, const struct imap_response *r)
{
	return r->kind == IMAP_RESP_TAGGED && strlen(c->tag) == r->tag.len &&
	       memcmp(c->tag, r->tag.p, r->tag.len) == 0;
}

static int on_response(struct imap_idle *i, const struct imap_response *r, uint64_t now,
		       struct err *err)
{
	struct imap_client *c = i->c;
	char text[256];
	if (r->kind == IMAP_RESP_UNTAGGED) {
		if (r->status == IMAP_STATUS_BYE) {
			c->bye = true;
			return err_set(err, ERR_TRANSIENT, "%s ended the session (BYE): %s", c->host,
				       imap_clean(&r->text, text, sizeof(text)));
		}
		if (r->has_number && slice_ieq(r->name, "EXISTS")) {
			if (r->number > i->count)
				i->mail = true;
			i->count = r->number;
		} else if (r->has_number && slice_ieq(r->name, "EXPUNGE")) {
			if (i->count)
				i->count--;
		}
		return 0;
	}
	if (r->kind == IMAP_RESP_CONTINUE) {
		if (i->st != ST_WAIT_CONT) {
			c->broken = true;
			return err_set(err, ERR_SOURCE, "protocol error from %s: unexpected "
				       "continuation request", c->host);
		}
		i->st = ST_IDLING;
		i->deadline = now + i->o.reissue_ms;
		return 0;
	}
	if (!is_our_tag(c, r)) {
		c->broken = true;
		return err_set(err, ERR_SOURCE, "protocol error from %s: response with an unknown "
			       "tag", c->host);
	}
	if (r->status != IMAP_STATUS_OK) {
		c->broken = true;
		return err_set(err, ERR_SOURCE, "%s refused %s: %s", c->host,
			       i->poll ? "NOOP" : "IDLE", imap_clean(&r->text, text, sizeof(text)));
	}
	switch (i->st) {
	case ST_WAIT_DONE:
		return start_idle(i, now, err);
	case ST_WAIT_NOOP:
		i->st = ST_POLL_WAIT;
		i->deadline = now + i->o.poll_ms;
		return 0;
	default:
		/* a tagged OK for IDLE before DONE: the server ended it; start again */
		return start_idle(i, now, err);
	}
}

int imap_idle_step(struct imap_idle *i, uint64_t now, bool *new_mail_r, struct err *err)
{
	struct imap_client *c = i->c;
	unsigned handled = 0;
	*new_mail_r = false;
	if (c->broken)
		return err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable", c->host);
	while (handled < IMAP_IDLE_MAX_RESPONSES) {
		if (net_conn_buffered(c->conn) == 0) {
			int r = net_conn_read_nowait(c->conn, err);
			if (r < 0) {
				c->broken = true;
				return -1;
			}
			if (r == 0)
				break;
		}
		const char *p;
		size_t len, used;
		const struct imap_response *resp = NULL;
		if (net_conn_peek(c->conn, &p, &len, err) < 0) {
			c->broken = true;
			return -1;
		}
		enum imap_parse_result res = imap_parser_feed(c->parser, p, len, &used, &resp);
		net_conn_consume(c->conn, used);
		if (res == IMAP_PARSE_ERROR) {
			c->broken = true;
			return err_set(err, ERR_SOURCE, "protocol error from %s: %s", c->host,
				       imap_parser_error_str(c->parser));
		}
		if (res == IMAP_PARSE_DONE) {
			handled++;
			if (on_response(i, resp, now, err) < 0)
				return -1;
		}
	}
	if (on_time(i, now, err) < 0)
		return -1;
	if (handled == IMAP_IDLE_MAX_RESPONSES)
		i->deadline = now < i->deadline ? now : i->deadline;  /* more to read: soon */
	*new_mail_r = i->mail;
	i->mail = false;
	return 0;
}

int imap_idle_new(struct imap_client **client, const struct imap_idle_opts *o, uint64_t now,
		  struct imap_idle **idle_r, struct err *err)
{
	struct imap_idle *i = xcalloc(1, sizeof(*i));
	i->c = *client;
	*client = NULL;
	*idle_r = NULL;
	if (o)
		i->o = *o;
	if (!i->o.reissue_ms)
		i->o.reissue_ms = IMAP_IDLE_REISSUE_DEFAULT_MS;
	if (!i->o.poll_ms)
		i->o.poll_ms = IMAP_IDLE_POLL_DEFAULT_MS;
	if (!i->o.answer_ms)
		i->o.answer_ms = IMAP_IDLE_ANSWER_DEFAULT_MS;
	i->count = i->c->exists;
	/* the session bound is for runs; writes here are tiny and bounded alone */
	net_conn_set_session_limit(i->c->conn, 0);
	net_conn_set_timeout(i->c->conn, IDLE_WRITE_MS);
	i->poll = i->o.force_poll || !imap_has_capability(i->c, "IDLE");
	if (i->poll) {
		log_warn("imap.idle_unsupported", "host=%s poll_ms=%llu note=\"%s: polling with "
			 "NOOP instead\"", i->c->host, (unsigned long long)i->o.poll_ms,
			 i->o.force_poll ? "IDLE not used" : "the server does not offer IDLE");
		i->st = ST_POLL_WAIT;
		i->deadline = now + i->o.poll_ms;
	} else if (start_idle(i, now, err) < 0) {
		imap_idle_free(&i);
		return -1;
	}
	*idle_r = i;
	return 0;
}

void imap_idle_free(struct imap_idle **ip)
{
	struct imap_idle *i = *ip;
	if (!i)
		return;
	struct imap_client *c = i->c;
	if (c && c->conn && !c->broken && !c->bye) {
		struct err e;
		/* DONE ends the IDLE, LOGOUT the session: sent, not waited for */
		if ((i->st == ST_IDLING || i->st == ST_WAIT_CONT) &&
		    net_conn_write(c->conn, "DONE\r\n", 6, &e) < 0)
			c->broken = true;
		if (!c->broken)
			(void)send_cmd(i, "LOGOUT", &e);
		log_debug("imap.idle_end", "host=%s", c->host);
		c->broken = true;   /* imap_client_free: no second LOGOUT, no wait */
	}
	imap_client_free(&i->c);
	free(i);
	*ip = NULL;
}

int imap_idle_fd(const struct imap_idle *i)
{
	return net_conn_fd(i->c->conn);
}

bool imap_idle_polling(const struct imap_idle *i)
{
	return i->poll;
}

uint64_t imap_idle_deadline(const struct imap_idle *i)
{
	return i->deadline;
}

unsigned imap_idle_issued(const struct imap_idle *i)
{
	return i->issued;
}
