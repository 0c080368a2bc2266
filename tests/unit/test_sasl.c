/*
 * engine/auth: choosing a mechanism, the exact bytes of each mechanism
 * against published examples (RFC 2195, RFC 7628, Google's XOAUTH2 page),
 * OAuth error challenges, and challenges a server must not send. Full
 * SCRAM and NTLM exchanges run against the real Dovecot
 * (tests/integration/test_auth_mechanisms.sh).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/auth/sasl.h"
#include "engine/util/base64.h"
#include "engine/util/log.h"
#include "tests/unit/test.h"

/* One step; returns the response (static) or NULL on error. */
static const char *step(struct sasl *s, const char *in, struct err *err)
{
	static char copy[1024];
	char *out = NULL;
	if (sasl_step(s, in, in ? strlen(in) : 0, &out, err) < 0)
		return NULL;
	snprintf(copy, sizeof(copy), "%s", out);
	sasl_out_free(&out);
	CHECK(out == NULL);
	return copy;
}

static struct sasl *start(const char *mech, const char *user, const char *secret)
{
	struct sasl_params p = {
		.service = "imap", .host = "server.example.com", .port = 143,
		.username = user, .secret = secret,
	};
	struct sasl *s = NULL;
	struct err err = {0};
	CHECK(sasl_new(mech, &p, &s, &err) == 0);
	return s;
}

TEST(pick_prefers_strongest_and_keeps_passwords_secret)
{
	const char *dovecot[] = {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"};
	CHECK_STR(sasl_pick(dovecot, 5, true), "SCRAM-SHA-256");
	CHECK_STR(sasl_pick(dovecot, 3, true), "CRAM-MD5");
	const char *plain[] = {"login", "plain"};
	CHECK_STR(sasl_pick(plain, 2, true), "PLAIN");
	CHECK(sasl_pick(plain, 2, false) == NULL);
	const char *oauth[] = {"XOAUTH2", "OAUTHBEARER", "NTLM", "GSSAPI"};
	CHECK(sasl_pick(oauth, 4, true) == NULL);
	const char *mixed[] = {"PLAIN", "SCRAM-SHA-1"};
	CHECK_STR(sasl_pick(mixed, 2, false), "SCRAM-SHA-1");
	/* an OAuth2 account's auto: OAUTHBEARER when offered, else XOAUTH2 */
	CHECK_STR(sasl_pick_bearer(oauth, 4), "OAUTHBEARER");
	const char *microsoft[] = {"PLAIN", "xoauth2"};
	CHECK_STR(sasl_pick_bearer(microsoft, 2), "XOAUTH2");
	CHECK(sasl_pick_bearer(dovecot, 5) == NULL);
	CHECK(sasl_pick_bearer(NULL, 0) == NULL);
	CHECK(sasl_mech_is_plaintext("PLAIN") && sasl_mech_is_plaintext("xoauth2"));
	CHECK(sasl_mech_is_plaintext("UNKNOWN-MECH"));
	CHECK(!sasl_mech_is_plaintext("SCRAM-SHA-256") && !sasl_mech_is_plaintext("CRAM-MD5"));
	CHECK(sasl_mech_client_first("PLAIN") && !sasl_mech_client_first("CRAM-MD5"));
	CHECK(!sasl_mech_supported("DIGEST-MD5") && sasl_mech_supported("ntlm"));
	struct sasl *s = NULL;
	struct err err = {0};
	struct sasl_params p = {.username = "u", .secret = "p"};
	CHECK(sasl_new("GSSAPI", &p, &s, &err) < 0);
	CHECK_INT(err.cls, ERR_FATAL);
}

TEST(plain_then_no_more_challenges)
{
	struct err err = {0};
	struct sasl *s = start("PLAIN", "alice", "pw");
	if (!s)
		return;
	CHECK_STR(step(s, NULL, &err), "AGFsaWNlAHB3");
	CHECK(sasl_done(s));
	CHECK(step(s, "", &err) == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "after the exchange had finished") != NULL);
	sasl_free(&s);
	CHECK(s == NULL);
}

TEST(cram_md5_rfc2195)
{
	struct err err = {0};
	struct sasl *s = start("CRAM-MD5", "tim", "tanstaaftanstaaf");
	if (!s)
		return;
	CHECK(!sasl_done(s));
	/* <1896.697170952@postoffice.reston.mci.net> */
	CHECK_STR(step(s, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", &err),
		  "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	CHECK(sasl_done(s));
	sasl_free(&s);
}

TEST(login_mechanism_two_steps)
{
	struct err err = {0};
	struct sasl *s = start("LOGIN", "alice", "pw");
	if (!s)
		return;
	CHECK_STR(step(s, "VXNlcm5hbWU6", &err), "YWxpY2U=");
	CHECK_STR(step(s, "UGFzc3dvcmQ6", &err), "cHc=");
	CHECK(sasl_done(s));
	sasl_free(&s);
}

TEST(xoauth2_google_example_and_error)
{
	struct err err = {0};
	struct sasl *s = start("XOAUTH2", "someuser@example.com",
			       "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	if (!s)
		return;
	CHECK_STR(step(s, NULL, &err),
		  "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
		  "YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	CHECK(sasl_done(s));
	CHECK(sasl_server_error(s) == NULL);
	/* {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"} */
	CHECK_STR(step(s, "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczov"
		       "L21haWwuZ29vZ2xlLmNvbS8ifQ==", &err), "");
	CHECK(sasl_server_error(s) && strstr(sasl_server_error(s), "\\\"status\\\":\\\"401\\\""));
	CHECK(step(s, "", &err) == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	sasl_free(&s);
}

TEST(oauthbearer_rfc7628)
{
	struct err err = {0};
	struct sasl *s = start("OAUTHBEARER", "user@example.com",
			       "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	if (!s)
		return;
	const char *out = step(s, "", &err);
	CHECK(out != NULL);
	if (out) {
		unsigned char raw[512];
		size_t n = 0;
		static const char want[] = "n,a=user@example.com,\001host=server.example.com"
					   "\001port=143\001auth=Bearer "
					   "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\001\001";
		CHECK(base64_decode(out, strlen(out), raw, &n) == 0);
		CHECK_INT(n, sizeof(want) - 1);
		CHECK(n == sizeof(want) - 1 && memcmp(raw, want, n) == 0);
	}
	/* the RFC 7628 failure: answered with a lone 0x01 */
	CHECK_STR(step(s, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=", &err), "AQ==");
	CHECK(sasl_server_error(s) && strstr(sasl_server_error(s), "invalid_token"));
	sasl_free(&s);
	/* a server that speaks first with data is wrong */
	s = start("OAUTHBEARER", "u", "t");
	if (s) {
		CHECK(step(s, "Zm9v", &err) == NULL);
		CHECK_INT(err.cls, ERR_SOURCE);
		sasl_free(&s);
	}
}

TEST(hostile_challenges)
{
	struct err err = {0};
	struct sasl *s = start("CRAM-MD5", "tim", "secret-pw");
	if (!s)
		return;
	CHECK(step(s, "not base64 !!!", &err) == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(strstr(err.msg, "secret-pw") == NULL);
	sasl_free(&s);
	s = start("SCRAM-SHA-256", "tim", "secret-pw");
	if (!s)
		return;
	const char *first = step(s, NULL, &err);
	CHECK(first && strlen(first) > 8);
	/* a challenge over the limit is refused before it is decoded */
	size_t big = SASL_MAX_CHALLENGE + 4;
	char *huge = malloc(big + 1);
	memset(huge, 'A', big);
	huge[big] = '\0';
	CHECK(step(s, huge, &err) == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	free(huge);
	/* a server-first message with a nonce that does not extend ours */
	CHECK(step(s, "cj1mb28scz1RU0ZXZlhkM3ZUYTFrbmJ3PT0saT00MDk2", &err) == NULL);
	CHECK_INT(err.cls, ERR_SOURCE);
	CHECK(!sasl_done(s));
	sasl_free(&s);
}

TEST(base64_is_strict)
{
	unsigned char out[16];
	size_t n = 0;
	char enc[16];
	CHECK(base64_decode("YWxpY2U=", 8, out, &n) == 0 && n == 5 && memcmp(out, "alice", 5) == 0);
	CHECK(base64_decode("", 0, out, &n) == 0 && n == 0);
	CHECK(base64_decode("YWxpY2U", 7, out, &n) < 0);    /* no padding */
	CHECK(base64_decode("YWxpY2V=", 8, out, &n) < 0);   /* bits set under the padding */
	CHECK(base64_decode("YW=pY2U=", 8, out, &n) < 0);   /* '=' inside */
	CHECK(base64_decode("YWxp\nY2U=", 9, out, &n) < 0);
	CHECK(base64_decode("YQ==YQ==", 8, out, &n) < 0);
	base64_encode("pw", 2, enc);
	CHECK_STR(enc, "cHc=");
	base64_encode("", 0, enc);
	CHECK_STR(enc, "");
	CHECK_INT(base64_encoded_size(2), 5);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	RUN(pick_prefers_strongest_and_keeps_passwords_secret);
	RUN(plain_then_no_more_challenges);
	RUN(cram_md5_rfc2195);
	RUN(login_mechanism_two_steps);
	RUN(xoauth2_google_example_and_error);
	RUN(oauthbearer_rfc7628);
	RUN(hostile_challenges);
	RUN(base64_is_strict);
	return test_summary();
}
