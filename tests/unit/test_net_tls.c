/*
 * TLS contexts: one per distinct settings, shared and counted, created
 * safely by many threads at once; bad cipher lists and CA files refused
 * as settings errors. Handshakes run against the real Dovecot
 * (tests/integration/test_tls_certs.sh).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/net.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

#define THREADS 8

static struct tls_settings base(void)
{
	struct tls_settings ts;
	memset(&ts, 0, sizeof(ts));
	ts.verify = true;
	return ts;
}

TEST(same_settings_share_one_context)
{
	struct tls_settings a = base(), b = base();
	struct net_tls *t1 = NULL, *t2 = NULL, *t3 = NULL;
	struct err err = {0};
	CHECK(net_tls_new(&a, &t1, &err) == 0);
	CHECK(net_tls_new(&b, &t2, &err) == 0);
	CHECK(t1 && t1 == t2);
	static char name[] = "imap.example.com";
	b.server_name = name;
	CHECK(net_tls_new(&b, &t3, &err) == 0);
	CHECK(t3 && t3 != t1);
	b.server_name = NULL;
	b.pins[0][0] = 1;
	b.npins = 1;
	struct net_tls *t4 = NULL;
	CHECK(net_tls_new(&b, &t4, &err) == 0);
	CHECK(t4 && t4 != t1 && t4 != t3);
	net_tls_free(&t1);
	CHECK(t1 == NULL);
	net_tls_free(&t2);
	net_tls_free(&t3);
	net_tls_free(&t4);
	net_tls_free(&t4);  /* NULL: nothing */
}

static void *grab(void *arg)
{
	struct net_tls **out = arg;
	struct tls_settings ts = base();
	static char ciphers[] = "ECDHE+AESGCM";
	ts.ciphers = ciphers;
	struct err err;
	if (net_tls_new(&ts, out, &err) < 0)
		*out = NULL;
	return NULL;
}

TEST(threads_creating_at_once_get_one_context)
{
	pthread_t th[THREADS];
	struct net_tls *got[THREADS] = {0};
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, grab, &got[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++) {
		CHECK(got[i] != NULL);
		CHECK(got[i] == got[0]);
	}
	for (int i = 0; i < THREADS; i++)
		net_tls_free(&got[i]);
}

TEST(bad_settings_are_config_errors)
{
	struct tls_settings ts = base();
	struct net_tls *t = NULL;
	struct err err = {0};
	static char bad[] = "NO-SUCH-CIPHER";
	ts.ciphers = bad;
	CHECK(net_tls_new(&ts, &t, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "NO-SUCH-CIPHER") != NULL);
	CHECK(t == NULL);
	ts = base();
	ts.ciphersuites = bad;
	CHECK(net_tls_new(&ts, &t, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	ts = base();
	static char missing[] = "/nonexistent/ca.pem";
	ts.ca_file = missing;
	CHECK(net_tls_new(&ts, &t, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
	CHECK(strstr(err.msg, "/nonexistent/ca.pem") != NULL);
	/* a failed creation leaves nothing behind: the next good one works */
	ts = base();
	CHECK(net_tls_new(&ts, &t, &err) == 0);
	net_tls_free(&t);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(same_settings_share_one_context);
	RUN(threads_creating_at_once_get_one_context);
	RUN(bad_settings_are_config_errors);
	return test_summary();
}
