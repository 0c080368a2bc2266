/*
 * OAuth2 without a network: token endpoint replies (success, rotation,
 * OAuth errors, hostile replies: no JSON, tokens with CR/LF or spaces,
 * oversized fields, wrong types), and the device-code polling rules of
 * RFC 8628 (interval, slow_down adding 5 s, expiry, access_denied, a bound
 * on the number of polls).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/auth/oauth_int.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

static int parse(enum oauth_reply_kind kind, const char *body, long status,
		 struct oauth_reply *r, struct err *err)
{
	err_clear(err);
	return oauth_reply_parse(kind, body, strlen(body), status, r, err);
}

TEST(token_replies)
{
	struct oauth_reply r;
	struct err err;
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, "{\"access_token\":\"eyJ0.a-b_c\",\"token_type\":\"bearer\","
			"\"expires_in\":3599,\"refresh_token\":\"0.AXoA-new\",\"scope\":\"x\"}", 200,
			&r, &err), 0);
	CHECK_STR(r.access_token, "eyJ0.a-b_c");
	CHECK_STR(r.refresh_token, "0.AXoA-new");
	CHECK_INT(r.expires_in, 3599);
	CHECK_STR(r.error, "");
	oauth_reply_release(&r);
	/* no rotation, expires_in as a string (some endpoints quote it) */
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, "{\"access_token\":\"t\",\"expires_in\":\"60\"}", 200, &r,
			&err), 0);
	CHECK(r.refresh_token == NULL);
	CHECK_INT(r.expires_in, 60);
	oauth_reply_release(&r);
	/* no expires_in: an hour */
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, "{\"access_token\":\"t\"}", 200, &r, &err), 0);
	CHECK_INT(r.expires_in, 3600);
	oauth_reply_release(&r);
	/* an OAuth error, cleaned */
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, "{\"error\":\"invalid_grant\",\"error_description\":"
			"\"AADSTS70008: expired\\r\\n\\u001b[31m\"}", 400, &r, &err), 0);
	CHECK_STR(r.error, "invalid_grant");
	CHECK(strchr(r.error_description, '\r') == NULL &&
	      strchr(r.error_description, '\x1b') == NULL);
	CHECK_INT(oauth_error_class(&r), ERR_SOURCE);
	oauth_reply_release(&r);
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, "{\"error\":\"temporarily_unavailable\"}", 503, &r, &err),
		  0);
	CHECK_INT(oauth_error_class(&r), ERR_TRANSIENT);
	oauth_reply_release(&r);
}

TEST(hostile_token_replies)
{
	static const struct {
		const char *body;
		long status;
		enum err_class cls;
		const char *msg;
	} cases[] = {
		{"<html>Bad Gateway</html>", 502, ERR_TRANSIENT, "(\"<html>Bad Gateway</html>\")"},
		{"{\"access_token\":\"eyJ-secret-start", 200, ERR_SOURCE, "no JSON object"},
		{"[1,2]", 200, ERR_SOURCE, "no JSON object"},
		{"{\"access_token\":\"a\\r\\nA0001 LOGOUT\"}", 200, ERR_SOURCE, "characters a token"},
		{"{\"access_token\":\"a b\"}", 200, ERR_SOURCE, "characters a token"},
		{"{\"access_token\":\"\"}", 200, ERR_SOURCE, "is empty"},
		{"{\"access_token\":42}", 200, ERR_SOURCE, "is not a string"},
		{"{\"access_token\":\"t\",\"token_type\":\"mac\"}", 200, ERR_SOURCE, "not Bearer"},
		{"{\"access_token\":\"t\",\"expires_in\":-5}", 200, ERR_SOURCE, "number of seconds"},
		{"{\"access_token\":\"t\",\"expires_in\":1e300}", 200, ERR_SOURCE, "number of seconds"},
		{"{\"access_token\":\"t\",\"access_token\":\"u\"}", 200, ERR_SOURCE, "no JSON object"},
		{"{\"token_type\":\"Bearer\"}", 200, ERR_SOURCE, "without access_token"},
		{"{}", 500, ERR_TRANSIENT, "HTTP 500 without an OAuth error"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oauth_reply r;
		struct err err;
		CHECK_INT(parse(OAUTH_REPLY_TOKEN, cases[i].body, cases[i].status, &r, &err), -1);
		CHECK_INT(err.cls, cases[i].cls);
		if (!strstr(err.msg, cases[i].msg)) {
			fprintf(stderr, "  case %zu: %s\n", i, err.msg);
			test_failed_now = 1;
		}
		CHECK(strstr(err.msg, "secret-start") == NULL);
		CHECK(r.access_token == NULL);
	}
	/* a token longer than the limit, and a reply larger than the limit */
	size_t n = OAUTH_MAX_REPLY + 100;
	char *big = malloc(n + 1);
	memset(big, 'a', n);
	memcpy(big, "{\"access_token\":\"", 17);
	memcpy(big + OAUTH_MAX_TOKEN + 100, "\"}", 3);
	struct oauth_reply r;
	struct err err;
	CHECK_INT(parse(OAUTH_REPLY_TOKEN, big, 200, &r, &err), -1);
	CHECK(strstr(err.msg, "too long") != NULL);
	big[n] = '\0';
	big[n - 2] = '"';
	big[n - 1] = '}';
	CHECK_INT(oauth_reply_parse(OAUTH_REPLY_TOKEN, big, n, 200, &r, &err), -1);
	CHECK(strstr(err.msg, "larger than") != NULL);
	free(big);
}

TEST(device_replies)
{
	struct oauth_reply r;
	struct err err;
	/* Google names it verification_url */
	CHECK_INT(parse(OAUTH_REPLY_DEVICE, "{\"device_code\":\"AH-1\",\"user_code\":\"GQVQ-JKEC\","
			"\"verification_url\":\"https://www.google.com/device\",\"expires_in\":1800,"
			"\"interval\":5}", 200, &r, &err), 0);
	CHECK_STR(r.verification_uri, "https://www.google.com/device");
	CHECK_INT(r.interval, 5);
	oauth_reply_release(&r);
	CHECK_INT(parse(OAUTH_REPLY_DEVICE, "{\"device_code\":\"d\",\"user_code\":\"u\"}", 200, &r,
			&err), -1);
	CHECK(strstr(err.msg, "verification_uri") != NULL);
}

static struct oauth_reply with_error(const char *e)
{
	struct oauth_reply r;
	memset(&r, 0, sizeof(r));
	snprintf(r.error, sizeof(r.error), "%s", e);
	r.http_status = 400;
	return r;
}

TEST(device_polling_rules)
{
	struct err err;
	struct oauth_poll p = {.interval_s = 5, .deadline = 1000};
	struct oauth_reply pending = with_error("authorization_pending");
	struct oauth_reply slow = with_error("slow_down");
	struct oauth_reply ok = with_error("");
	CHECK_INT(oauth_poll_decide(&p, &pending, 100, &err), OAUTH_POLL_AGAIN);
	CHECK_INT(p.interval_s, 5);
	CHECK_INT(oauth_poll_decide(&p, &slow, 105, &err), OAUTH_POLL_AGAIN);
	CHECK_INT(p.interval_s, 10);   /* RFC 8628 3.5: 5 seconds more, from now on */
	CHECK_INT(oauth_poll_decide(&p, &slow, 115, &err), OAUTH_POLL_AGAIN);
	CHECK_INT(p.interval_s, 15);
	CHECK_INT(oauth_poll_decide(&p, &pending, 130, &err), OAUTH_POLL_AGAIN);
	CHECK_INT(p.interval_s, 15);
	CHECK_INT(oauth_poll_decide(&p, &ok, 145, &err), OAUTH_POLL_DONE);
	/* no poll after the code expires */
	CHECK_INT(oauth_poll_decide(&p, &pending, 990, &err), OAUTH_POLL_FAILED);
	CHECK(strstr(err.msg, "expired") != NULL);
	struct oauth_reply denied = with_error("access_denied");
	struct oauth_poll q = {.interval_s = 1, .deadline = 1000000};
	CHECK_INT(oauth_poll_decide(&q, &denied, 0, &err), OAUTH_POLL_FAILED);
	CHECK(strstr(err.msg, "declined") != NULL);
	struct oauth_reply expired = with_error("expired_token");
	CHECK_INT(oauth_poll_decide(&q, &expired, 0, &err), OAUTH_POLL_FAILED);
	/* bounded, whatever the deadline */
	unsigned n = 0;
	q.polls = 0;
	while (oauth_poll_decide(&q, &pending, 0, &err) == OAUTH_POLL_AGAIN && n < 100000)
		n++;
	CHECK(n < OAUTH_POLL_MAX);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(token_replies);
	RUN(hostile_token_replies);
	RUN(device_replies);
	RUN(device_polling_rules);
	return test_summary();
}
