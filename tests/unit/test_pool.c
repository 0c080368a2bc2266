/*
 * The worker pool's growth rule (engine/sched/pool.h) and the wait marks it
 * reads (engine/util/waitmark.h), including that a connection's read really
 * is marked while it waits on a silent server, and unmarked after.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/net/net.h"
#include "engine/sched/pool.h"
#include "engine/util/waitmark.h"
#include "tests/unit/test.h"

static unsigned grow(unsigned threads, unsigned idle, unsigned waiting, size_t queued,
		     unsigned min, unsigned max)
{
	struct pool_view v = {.threads = threads, .idle = idle, .waiting = waiting,
			      .queued = queued, .min = min, .max = max};
	return pool_grow(&v);
}

TEST(pool_does_not_grow_for_healthy_work)
{
	/* nothing queued, or idle workers to take it */
	CHECK_INT(grow(4, 4, 0, 0, 4, 32), 0);
	CHECK_INT(grow(4, 2, 0, 2, 4, 32), 0);
	CHECK_INT(grow(4, 1, 2, 1, 4, 32), 0);
	/* a long queue of work that workers are doing: --workers is the limit */
	CHECK_INT(grow(4, 0, 0, 1000, 4, 32), 0);
	/* waiting workers, but nothing queued: no thread for nothing */
	CHECK_INT(grow(4, 0, 4, 0, 4, 32), 0);
}

TEST(pool_grows_past_workers_waiting_on_servers)
{
	/* all four wait on stalled servers, one task queued: one more */
	CHECK_INT(grow(4, 0, 4, 1, 4, 32), 1);
	/* ten queued: enough to have four working again */
	CHECK_INT(grow(4, 0, 4, 10, 4, 32), 4);
	/* three wait, one works, five queued: three more */
	CHECK_INT(grow(4, 0, 3, 5, 4, 32), 3);
	/* grown before: 8 threads, 5 waiting, 3 working; 2 queued */
	CHECK_INT(grow(8, 0, 5, 2, 4, 32), 1);
	/* one works, an idle one takes a queued task and works too: two more
	 * for the two tasks left */
	CHECK_INT(grow(6, 1, 4, 3, 4, 32), 2);
	CHECK_INT(grow(6, 1, 4, 2, 4, 32), 1);
	/* min 1: one waiting, one queued */
	CHECK_INT(grow(1, 0, 1, 1, 1, 2), 1);
}

TEST(pool_stops_at_max_and_tops_up_to_min)
{
	CHECK_INT(grow(32, 0, 32, 5, 4, 32), 0);
	CHECK_INT(grow(30, 0, 30, 10, 4, 32), 2);
	CHECK_INT(grow(4, 0, 4, 10, 4, 4), 0);
	/* a reload raised the minimum: topped up, queued or not */
	CHECK_INT(grow(2, 2, 0, 0, 4, 32), 2);
	CHECK_INT(grow(0, 0, 0, 0, 4, 32), 4);
	/* counts read without one lock may disagree a little: clamped */
	CHECK_INT(grow(4, 5, 0, 1, 4, 32), 0);
	CHECK_INT(grow(4, 0, 9, 2, 4, 32), 2);
}

TEST(waitmark_marks_the_outermost_wait)
{
	atomic_uint_least64_t slot;
	atomic_init(&slot, 12345);
	waitmark_begin();   /* no slot bound: nothing happens */
	waitmark_end();
	CHECK(atomic_load(&slot) == 12345);
	waitmark_bind(&slot);
	CHECK(atomic_load(&slot) == 0);
	uint64_t before = waitmark_now_ms();
	waitmark_begin();
	uint64_t start = atomic_load(&slot);
	CHECK(start >= before && start != 0);
	waitmark_begin();   /* nested: keeps the outer start */
	CHECK(atomic_load(&slot) == start);
	waitmark_end();
	CHECK(atomic_load(&slot) == start);
	waitmark_end();
	CHECK(atomic_load(&slot) == 0);
	waitmark_end();     /* unpaired: ignored */
	CHECK(atomic_load(&slot) == 0);
	waitmark_bind(NULL);
	waitmark_begin();
	CHECK(atomic_load(&slot) == 0);
	waitmark_end();
}

struct reader {
	unsigned port;
	atomic_uint_least64_t slot;
	int rc;
	char line[64];
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct net_conn *c = NULL;
	struct err err = {0};
	const char *line;
	size_t len;
	waitmark_bind(&r->slot);
	r->rc = -1;
	if (net_conn_open("127.0.0.1", r->port, NULL, 20000, &c, &err) == 0 &&
	    net_conn_read_line(c, 1000, &line, &len, &err) == 0) {
		snprintf(r->line, sizeof(r->line), "%.*s", (int)len, line);
		r->rc = 0;
	}
	net_conn_free(&c);
	waitmark_bind(NULL);
	return NULL;
}

/* The server says nothing until the test has seen the reader marked as waiting. */
TEST(a_read_from_a_silent_server_is_marked)
{
	struct reader r = {0};
	atomic_init(&r.slot, 0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
		CHECK(!"listen");
		return;
	}
	r.port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, reader_main, &r);
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	int fd = poll(&p, 1, 15000) == 1 ? accept(lfd, NULL, NULL) : -1;
	CHECK(fd >= 0);
	bool seen = false;
	struct timespec ms = {0, 1000000};
	for (int i = 0; i < 15000 && !seen; i++) {
		seen = atomic_load(&r.slot) != 0;
		if (!seen)
			nanosleep(&ms, NULL);
	}
	CHECK(seen);
	CHECK(atomic_load(&r.slot) <= waitmark_now_ms());
	if (fd >= 0) {
		(void)!write(fd, "* OK hello\r\n", 12);
	}
	pthread_join(t, NULL);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.line, "* OK hello");
	CHECK(atomic_load(&r.slot) == 0);
	if (fd >= 0)
		close(fd);
	close(lfd);
}

int main(void)
{
	RUN(pool_does_not_grow_for_healthy_work);
	RUN(pool_grows_past_workers_waiting_on_servers);
	RUN(pool_stops_at_max_and_tops_up_to_min);
	RUN(waitmark_marks_the_outermost_wait);
	RUN(a_read_from_a_silent_server_is_marked);
	return test_summary();
}
