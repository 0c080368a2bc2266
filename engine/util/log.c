#include "engine/util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/util/xalloc.h"

#define LOG_LINE_MAX 4096
/* Passwords of every account, and OAuth2 tokens as they rotate (old ones are
 * removed): a daemon with many accounts needs more than a handful. */
#define LOG_SECRETS_MAX 4096

static enum log_level g_level = LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char **g_secrets;
static size_t g_nsecrets, g_secrets_cap;

static _Thread_local char t_job[128];
static _Thread_local char t_account[128];
static _Thread_local uint32_t t_uid;

void log_set_level(enum log_level level)
{
	g_level = level;
}

enum log_level log_get_level(void)
{
	return g_level;
}

int log_level_parse(const char *name)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

static void copy_ctx(char *dst, size_t dstlen, const char *src)
{
	if (!src) {
		dst[0] = '\0';
		return;
	}
	log_clean(src, strlen(src), dst, dstlen);
}

void log_ctx_set(const char *job, const char *account)
{
	copy_ctx(t_job, sizeof(t_job), job);
	copy_ctx(t_account, sizeof(t_account), account);
	t_uid = 0;
}

void log_ctx_uid(uint32_t uid)
{
	t_uid = uid;
}

void log_add_secret(const char *secret)
{
	/* very short "secrets" would blank out ordinary words in every line */
	if (!secret || strlen(secret) < 3)
		return;
	pthread_mutex_lock(&g_lock);
	for (size_t i = 0; i < g_nsecrets; i++) {
		if (strcmp(g_secrets[i], secret) == 0) {
			pthread_mutex_unlock(&g_lock);
			return;
		}
	}
	if (g_nsecrets == g_secrets_cap && g_secrets_cap < LOG_SECRETS_MAX) {
		g_secrets_cap = g_secrets_cap ? g_secrets_cap * 2 : 64;
		g_secrets = xreallocarray(g_secrets, g_secrets_cap, sizeof(*g_secrets));
	}
	if (g_nsecrets < g_secrets_cap)
		g_secrets[g_nsecrets++] = xstrdup(secret);
	pthread_mutex_unlock(&g_lock);
}

void log_remove_secret(const char *secret)
{
	if (!secret)
		return;
	pthread_mutex_lock(&g_lock);
	for (size_t i = 0; i < g_nsecrets; i++) {
		if (strcmp(g_secrets[i], secret) == 0) {
			explicit_bzero(g_secrets[i], strlen(g_secrets[i]));
			free(g_secrets[i]);
			g_secrets[i] = g_secrets[--g_nsecrets];
			break;
		}
	}
	pthread_mutex_unlock(&g_lock);
}

void log_clear_secrets(void)
{
	pthread_mutex_lock(&g_lock);
	for (size_t i = 0; i < g_nsecrets; i++)
		free(g_secrets[i]);
	free(g_secrets);
	g_secrets = NULL;
	g_nsecrets = g_secrets_cap = 0;
	pthread_mutex_unlock(&g_lock);
}

/* Replaces every registered secret in line (in place, never growing it). */
static void redact(char *line)
{
	for (size_t i = 0; i < g_nsecrets; i++) {
		const char *s = g_secrets[i];
		size_t slen = strlen(s);
		char *hit;
		while ((hit = strstr(line, s)) != NULL) {
			memcpy(hit, "***", 3);
			memmove(hit + 3, hit + slen, strlen(hit + slen) + 1);
		}
	}
}

char *log_clean(const char *in, size_t inlen, char *out, size_t outlen)
{
	if (outlen == 0)
		return out;
	size_t o = 0;
	size_t limit = outlen - 1;
	int cut = 0;
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc[2];
		size_t n = 1;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '?';
		} else {
			esc[0] = (char)c;
		}
		if (o + n > limit) {
			cut = 1;
			break;
		}
		memcpy(out + o, esc, n);
		o += n;
	}
	if (cut) {
		size_t keep = limit >= 3 ? limit - 3 : 0;
		if (o > keep)
			o = keep;
		/* do not leave half a UTF-8 sequence before the ellipsis */
		while (o > 0 && ((unsigned char)out[o] & 0xC0) == 0x80)
			o--;
		if (o > 0 && o < keep + 1 && ((unsigned char)out[o - 1] & 0x80)) {
			size_t start = o - 1;
			while (start > 0 && ((unsigned char)out[start] & 0xC0) == 0x80)
				start--;
			unsigned char lead = (unsigned char)out[start];
			size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
			if (o - start < need)
				o = start;
		}
		if (limit >= 3) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	return out;
}

void log_msg(enum log_level level, const char *event, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	if (level < g_level)
		return;
	char line[LOG_LINE_MAX];
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(line, sizeof(line), "%s level=%s event=%s", ts, names[level], event);
	if (t_job[0] && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, " job=%s", t_job);
	if (t_account[0] && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, " account=%s", t_account);
	if (t_uid && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, " uid=%u", t_uid);
	if (fmt && fmt[0] && n >= 0 && (size_t)n + 1 < sizeof(line)) {
		line[n++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	line[sizeof(line) - 1] = '\0';
	pthread_mutex_lock(&g_lock);
	redact(line);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&g_lock);
}
