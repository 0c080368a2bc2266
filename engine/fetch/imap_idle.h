/*
 * Push for one mailbox (RFC 2177 IMAP IDLE), as a state machine that never
 * waits: an event loop owns many of these, puts imap_idle_fd() in its
 * poll/epoll set, and calls imap_idle_step() when the fd is readable or
 * imap_idle_deadline() has come. No thread per connection.
 *
 *   IDLE      "TAG IDLE", "+" from the server, then untagged EXISTS say
 *             mail arrived; before reissue_ms (29 minutes: servers may drop
 *             an IDLE after 30) "DONE", the tagged OK, and IDLE again.
 *   polling   a server without the IDLE capability is asked "NOOP" every
 *             poll_ms instead (logged once when the machine starts).
 * New mail is an EXISTS whose count is above the count known (EXPUNGE
 * lowers it); FETCH (flag changes) and RECENT alone do not count: a job
 * takes mail by arrival, and the count is what changes when mail arrives.
 * An answer ("+", or the tagged OK of DONE or NOOP) not seen within
 * answer_ms means a stalled server: the step fails (ERR_TRANSIENT) and the
 * owner reconnects. BYE, a close, a protocol error or a refused IDLE end it
 * too.
 *
 * SECURITY: the server is untrusted: responses go through the bounded
 * parser (imap_parse.h), at most IMAP_IDLE_MAX_RESPONSES per step so that
 * a flood cannot hold the event loop, and its text is cleaned before it is
 * logged.
 */
#ifndef M2T_IMAP_IDLE_H
#define M2T_IMAP_IDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/fetch/imap.h"
#include "engine/util/err.h"

#define IMAP_IDLE_REISSUE_DEFAULT_MS (29ull * 60 * 1000)
#define IMAP_IDLE_POLL_DEFAULT_MS (60ull * 1000)
#define IMAP_IDLE_ANSWER_DEFAULT_MS (30ull * 1000)
#define IMAP_IDLE_MAX_RESPONSES 256   /* handled per step; more: the deadline is now */

struct imap_idle_opts {
	uint64_t reissue_ms;    /* DONE + IDLE again after this long; 0: the default */
	uint64_t poll_ms;       /* NOOP interval without IDLE; 0: the default */
	uint64_t answer_ms;     /* longest wait for "+" or a tagged OK; 0: the default */
	bool force_poll;        /* NOOP polling even when IDLE is offered (tests) */
};

struct imap_idle;

/*
 * Takes over *client (connected, logged in, a mailbox selected or examined;
 * *client becomes NULL) and starts: IDLE sent, or the first NOOP wait.
 * now_ms is CLOCK_MONOTONIC in milliseconds (imap_idle_now_ms). The
 * connection's session bound is lifted: an IDLE lasts as long as it is kept.
 * On failure the client is freed and *idle_r is NULL.
 */
int imap_idle_new(struct imap_client **client, const struct imap_idle_opts *o, uint64_t now_ms,
		  struct imap_idle **idle_r, struct err *err);
/*
 * Ends it: DONE when idling, LOGOUT, close. The bytes are sent without
 * waiting for the answers (a stalled server must not hold the caller);
 * sets *idle to NULL.
 */
void imap_idle_free(struct imap_idle **idle);

int imap_idle_fd(const struct imap_idle *i);
/* True when the server has no IDLE and NOOP polling is used. */
bool imap_idle_polling(const struct imap_idle *i);
/* When imap_idle_step must run even without input (monotonic ms). */
uint64_t imap_idle_deadline(const struct imap_idle *i);
/* IDLE commands sent so far (the first and each re-issue), for tests and logs. */
unsigned imap_idle_issued(const struct imap_idle *i);

/*
 * Reads what the server sent without waiting, answers it, and does what the
 * timers ask (DONE/IDLE, NOOP). *new_mail_r is true when mail arrived since
 * the last step. -1 with err when the connection is over: free it and
 * reconnect (with backoff).
 */
int imap_idle_step(struct imap_idle *i, uint64_t now_ms, bool *new_mail_r, struct err *err);

uint64_t imap_idle_now_ms(void);

#endif
