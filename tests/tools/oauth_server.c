/*
 * oauth_server: a small OAuth2 authorization server on 127.0.0.1 for the
 * integration tests. It is what Microsoft's or Google's token endpoint is
 * to mail2ticket, and what an introspection endpoint is to Dovecot's
 * oauth2 passdb, so XOAUTH2 and OAUTHBEARER logins happen against the real
 * Dovecot with tokens this server issued.
 *
 *   oauth_server --port P --user NAME --client-id ID [--client-secret S]
 *                [--refresh-token RT] [--expires-in SECONDS] [--no-rotate]
 *                [--approve-after N] [--delay-ms MS] [--pid-file FILE]
 *
 *   POST /token        grant_type refresh_token (rotates the refresh token and
 *                      refuses the old one, as strict providers do),
 *                      client_credentials, device_code (authorization_pending
 *                      until the N-th poll)
 *   POST /devicecode   a device code, user code "M2T-TEST", interval 1 s
 *   POST /introspect   token=AT: {"active":true,"username":NAME} while AT is valid
 *   POST /admin/revoke-refresh   refuses the current refresh token from now on
 *   POST /admin/revoke-access    forgets every access token issued so far
 *   GET  /admin/state  "refresh_grants=N\nrefresh_token=RT\naccess_tokens=N\n"
 *
 * One thread per connection, one request per connection (Connection:
 * close); --delay-ms holds each /token answer back so that two clients
 * overlap. Requests are capped at 64 KB. Not for anything but tests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ (64 * 1024)
#define MAX_TOKENS 1024

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *g_user = "oauth";
static const char *g_client_id = "m2t-test-client";
static const char *g_client_secret;
static char g_refresh[128];             /* the one valid refresh token; "" none */
static char *g_access[MAX_TOKENS];
static int g_naccess;
static long g_expires_in = 3600;
static int g_rotate = 1;
static int g_approve_after = 2;
static long g_delay_ms;
static int g_device_polls;
static char g_device_code[64];
static int g_refresh_grants;
static unsigned g_seq;
static unsigned g_port;

static void new_token(const char *prefix, char *out, size_t outlen)
{
	unsigned r = (unsigned)random();
	snprintf(out, outlen, "%s-%u-%08x%08x", prefix, ++g_seq, r, (unsigned)random());
}

static int url_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < len) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* The value of name in a form body, decoded; "" when absent. */
static void form_get(const char *body, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	out[0] = '\0';
	for (const char *p = body; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > nlen && p[nlen] == '=' && strncmp(p, name, nlen) == 0) {
			url_decode(p + nlen + 1, len - nlen - 1, out, outlen);
			return;
		}
		p = amp ? amp + 1 : NULL;
	}
}

static void reply(int fd, int status, const char *body)
{
	char head[256];
	const char *text = status == 200 ? "OK" : status == 400 ? "Bad Request"
		: status == 401 ? "Unauthorized" : "Not Found";
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, text,
			 strlen(body));
	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void error_reply(int fd, int status, const char *code, const char *desc)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"error\":\"%s\",\"error_description\":\"%s\"}", code, desc);
	reply(fd, status, body);
}

/* Issues an access token (and the refresh token, when given); lock held. */
static void tokens_reply(int fd, const char *refresh)
{
	char at[64], body[512];
	new_token("at", at, sizeof(at));
	if (g_naccess < MAX_TOKENS)
		g_access[g_naccess++] = strdup(at);
	if (refresh)
		snprintf(body, sizeof(body), "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
			 "\"expires_in\":%ld,\"refresh_token\":\"%s\",\"scope\":\"imap\"}", at,
			 g_expires_in, refresh);
	else
		snprintf(body, sizeof(body), "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
			 "\"expires_in\":\"%ld\"}", at, g_expires_in);
	reply(fd, 200, body);
}

static void token_endpoint(int fd, const char *body)
{
	char grant[64], client[128], secret[128], value[512];
	form_get(body, "grant_type", grant, sizeof(grant));
	form_get(body, "client_id", client, sizeof(client));
	form_get(body, "client_secret", secret, sizeof(secret));
	if (g_delay_ms) {
		struct timespec ts = {g_delay_ms / 1000, (g_delay_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&g_lock);
	if (strcmp(client, g_client_id) != 0 ||
	    (g_client_secret && strcmp(secret, g_client_secret) != 0)) {
		error_reply(fd, 401, "invalid_client", "unknown client or wrong secret");
	} else if (strcmp(grant, "refresh_token") == 0) {
		form_get(body, "refresh_token", value, sizeof(value));
		g_refresh_grants++;
		if (!g_refresh[0] || strcmp(value, g_refresh) != 0) {
			error_reply(fd, 400, "invalid_grant", "AADSTS70000: the refresh token was "
				    "revoked or is unknown");
		} else if (g_rotate) {
			new_token("rt", g_refresh, sizeof(g_refresh));
			tokens_reply(fd, g_refresh);
		} else {
			tokens_reply(fd, NULL);
		}
	} else if (strcmp(grant, "client_credentials") == 0) {
		tokens_reply(fd, NULL);
	} else if (strcmp(grant, "urn:ietf:params:oauth:grant-type:device_code") == 0) {
		form_get(body, "device_code", value, sizeof(value));
		if (!g_device_code[0] || strcmp(value, g_device_code) != 0) {
			error_reply(fd, 400, "expired_token", "unknown device code");
		} else if (++g_device_polls < g_approve_after) {
			error_reply(fd, 400, "authorization_pending", "waiting for the user");
		} else {
			g_device_code[0] = '\0';
			new_token("rt", g_refresh, sizeof(g_refresh));
			tokens_reply(fd, g_refresh);
		}
	} else {
		error_reply(fd, 400, "unsupported_grant_type", "unknown grant");
	}
	pthread_mutex_unlock(&g_lock);
}

static void device_endpoint(int fd, const char *body)
{
	char client[128], out[512];
	form_get(body, "client_id", client, sizeof(client));
	pthread_mutex_lock(&g_lock);
	if (strcmp(client, g_client_id) != 0) {
		error_reply(fd, 400, "invalid_client", "unknown client");
	} else {
		new_token("dc", g_device_code, sizeof(g_device_code));
		g_device_polls = 0;
		snprintf(out, sizeof(out), "{\"device_code\":\"%s\",\"user_code\":\"M2T-TEST\","
			 "\"verification_uri\":\"http://127.0.0.1:%u/device\",\"expires_in\":60,"
			 "\"interval\":1,\"message\":\"Enter M2T-TEST at the test page.\"}",
			 g_device_code, g_port);
		reply(fd, 200, out);
	}
	pthread_mutex_unlock(&g_lock);
}

static void introspect(int fd, const char *body)
{
	char token[512], out[256];
	form_get(body, "token", token, sizeof(token));
	int active = 0;
	pthread_mutex_lock(&g_lock);
	for (int i = 0; i < g_naccess && !active; i++)
		active = g_access[i] && strcmp(g_access[i], token) == 0;
	pthread_mutex_unlock(&g_lock);
	if (active)
		snprintf(out, sizeof(out), "{\"active\":true,\"username\":\"%s\",\"scope\":\"imap\"}",
			 g_user);
	else
		snprintf(out, sizeof(out), "{\"active\":false}");
	reply(fd, 200, out);
}

static void admin(int fd, const char *path)
{
	char out[512];
	pthread_mutex_lock(&g_lock);
	if (strcmp(path, "/admin/revoke-refresh") == 0) {
		g_refresh[0] = '\0';
		reply(fd, 200, "{}");
	} else if (strcmp(path, "/admin/revoke-access") == 0) {
		for (int i = 0; i < g_naccess; i++) {
			free(g_access[i]);
			g_access[i] = NULL;
		}
		reply(fd, 200, "{}");
	} else {
		int n = 0;
		for (int i = 0; i < g_naccess; i++)
			n += g_access[i] != NULL;
		snprintf(out, sizeof(out), "refresh_grants=%d\nrefresh_token=%s\naccess_tokens=%d\n",
			 g_refresh_grants, g_refresh, n);
		reply(fd, 200, out);
	}
	pthread_mutex_unlock(&g_lock);
}

/* Reads one request (head and Content-Length body) into buf. */
static int read_request(int fd, char *buf, size_t cap, char **body_r)
{
	size_t len = 0;
	long clen = -1;
	char *body = NULL;
	while (len + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (!body && (body = strstr(buf, "\r\n\r\n"))) {
			body += 4;
			char *cl = strcasestr(buf, "\r\nContent-Length:");
			clen = cl ? strtol(cl + 17, NULL, 10) : 0;
		}
		if (body && (long)(len - (size_t)(body - buf)) >= clen) {
			*body_r = body;
			return 0;
		}
	}
	return -1;
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	static _Thread_local char buf[MAX_REQ];
	char *body = NULL, method[8], path[128];
	if (read_request(fd, buf, sizeof(buf), &body) == 0 &&
	    sscanf(buf, "%7s %127s", method, path) == 2) {
		if (strcmp(path, "/token") == 0)
			token_endpoint(fd, body);
		else if (strcmp(path, "/devicecode") == 0)
			device_endpoint(fd, body);
		else if (strcmp(path, "/introspect") == 0)
			introspect(fd, body);
		else if (strncmp(path, "/admin/", 7) == 0)
			admin(fd, path);
		else
			error_reply(fd, 404, "not_found", "no such endpoint");
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *pid_file = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--port") == 0)
			g_port = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(k, "--user") == 0)
			g_user = v;
		else if (strcmp(k, "--client-id") == 0)
			g_client_id = v;
		else if (strcmp(k, "--client-secret") == 0)
			g_client_secret = v;
		else if (strcmp(k, "--refresh-token") == 0)
			snprintf(g_refresh, sizeof(g_refresh), "%s", v);
		else if (strcmp(k, "--expires-in") == 0)
			g_expires_in = strtol(v, NULL, 10);
		else if (strcmp(k, "--no-rotate") == 0)
			g_rotate = strcmp(v, "1") != 0;
		else if (strcmp(k, "--approve-after") == 0)
			g_approve_after = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--delay-ms") == 0)
			g_delay_ms = strtol(v, NULL, 10);
		else if (strcmp(k, "--pid-file") == 0)
			pid_file = v;
		else {
			fprintf(stderr, "oauth_server: unknown option %s\n", k);
			return 64;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0) {
		perror("oauth_server: bind");
		return 1;
	}
	if (pid_file) {
		FILE *f = fopen(pid_file, "w");
		if (f) {
			fprintf(f, "%ld\n", (long)getpid());
			fclose(f);
		}
	}
	fprintf(stderr, "oauth_server: listening on 127.0.0.1:%u\n", g_port);
	/* bounded: a test server never outlives its test by much */
	time_t end = time(NULL) + 600;
	while (time(NULL) < end) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		if (poll(&p, 1, 1000) <= 0)
			continue;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, serve, (void *)(long)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
	return 0;
}
