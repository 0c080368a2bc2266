/*
 * The one logging module. Lines go to stderr as key=value:
 *   2026-11-21T10:00:00Z level=info job=support account=support uid=42 msg="..."
 * or, with log_set_format(LOG_FORMAT_JSON), one JSON object per line with
 * the same members ({"ts":...,"level":...,"event":...,"job":...,...}; bare
 * numeric values are JSON numbers). When stderr is the systemd journal
 * ($JOURNAL_STREAM), each line starts with its syslog priority ("<4>") so
 * that journald files it under the right level.
 * Context (job, account, uid) is per thread. Text that came from a mail must
 * pass log_clean() before it is logged. Registered secrets are replaced by
 * "***" in every line, a second guard behind "never pass a secret to log_*".
 */
#ifndef M2T_LOG_H
#define M2T_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_format {
	LOG_FORMAT_KV = 0,   /* key=value (default) */
	LOG_FORMAT_JSON,
};

void log_set_level(enum log_level level);
/* Set before threads start (or between lines: it is read once per line). */
void log_set_format(enum log_format format);
/* "kv" (or "text"), "json"; -1 when unknown. */
int log_format_parse(const char *name);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error"; -1 when unknown. */
int log_level_parse(const char *name);

/* Per-thread context; NULL clears a key. Strings are copied. */
void log_ctx_set(const char *job, const char *account);
void log_ctx_uid(uint32_t uid);   /* 0 clears */

/* Never logged: every occurrence in a line is replaced by "***". Copied. */
void log_add_secret(const char *secret);
/* Forgets one secret that is no longer in use (a replaced OAuth2 token). */
void log_remove_secret(const char *secret);
/* Forget all registered secrets (tests, config reload). */
void log_clear_secrets(void);

/* `event` is a short dotted name ("imap.connect"); `fmt` adds key=value pairs. */
void log_msg(enum log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/*
 * Makes untrusted text safe to log: control characters become '?', '"' and
 * '\' are escaped, and the result is cut to at most outlen-1 bytes (with
 * "..." when cut) without splitting a UTF-8 sequence. Returns out.
 */
char *log_clean(const char *in, size_t inlen, char *out, size_t outlen);

#endif
