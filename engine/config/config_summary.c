/*
 * The `check-config` summary, and finding passwords inside a database URL
 * so that the summary can mask them and the log can redact them.
 *
 * SECURITY: nothing here prints a password: accounts show where the
 * password comes from, the database URL is printed with "***" in place of
 * every password it holds.
 */
#include "engine/config/config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/preprocess.h"
#include "rules/ruleset.h"

#define URL_SPANS_MAX 8

struct span {
	size_t start;
	size_t len;
};

/*
 * Where passwords are in a PostgreSQL connection string: the user info of
 * a URL ("postgresql://user:SECRET@host/db"), and any "password=SECRET"
 * (URL query parameter or key=value conninfo, quoted or not).
 */
static size_t url_password_spans(const char *url, struct span *spans, size_t max)
{
	size_t n = 0;
	const char *scheme = strstr(url, "://");
	if (scheme) {
		const char *auth = scheme + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon && n < max) {
			spans[n].start = (size_t)(colon + 1 - url);
			spans[n].len = (size_t)(at - colon - 1);
			n++;
		}
	}
	for (const char *p = url; (p = strcasestr(p, "password")) != NULL && n < max;) {
		const char *v = p + strlen("password");
		/* only a whole word: "xpassword=" or "password_file=" is something else */
		bool word = p == url || !((p[-1] >= 'a' && p[-1] <= 'z') ||
					  (p[-1] >= 'A' && p[-1] <= 'Z') || p[-1] == '_');
		p = v;
		while (*v == ' ')
			v++;
		if (!word || *v != '=')
			continue;
		v++;
		while (*v == ' ')
			v++;
		size_t len;
		if (*v == '\'') {
			/* conninfo quoting: 'it''s' is not a thing, \' is */
			len = 1;
			while (v[len] && v[len] != '\'')
				len += v[len] == '\\' && v[len + 1] ? 2 : 1;
			if (v[len] == '\'')
				len++;
		} else {
			len = strcspn(v, "& \t\r\n#");
		}
		if (len) {
			spans[n].start = (size_t)(v - url);
			spans[n].len = len;
			n++;
		}
		p = v + len;
	}
	return n;
}

const char *config_mask_url(const char *url, char *out, size_t outlen)
{
	struct span spans[URL_SPANS_MAX];
	size_t n = url_password_spans(url, spans, URL_SPANS_MAX);
	size_t o = 0, i = 0;
	if (outlen == 0)
		return out;
	while (url[i] && o + 1 < outlen) {
		bool masked = false;
		for (size_t k = 0; k < n; k++) {
			if (spans[k].start == i && spans[k].len) {
				for (const char *m = "***"; *m && o + 1 < outlen; m++)
					out[o++] = *m;
				i += spans[k].len;
				masked = true;
				break;
			}
		}
		if (!masked)
			out[o++] = url[i++];
	}
	out[o] = '\0';
	return out;
}

void config_url_add_secrets(const char *url)
{
	struct span spans[URL_SPANS_MAX];
	size_t n = url_password_spans(url, spans, URL_SPANS_MAX);
	for (size_t k = 0; k < n; k++) {
		char *s = xstrndup(url + spans[k].start, spans[k].len);
		log_add_secret(s);
		explicit_bzero(s, spans[k].len);
		free(s);
	}
}


static void account_print(const struct config_account *a, FILE *out)
{
	static const char *const protocols[] = {"imap", "pop3", "maildir"};
	char t[32], t2[32], t3[32];
	fprintf(out, "  %s (line %u)\n", a->name, a->line);
	if (a->protocol == PROTO_MAILDIR) {
		fprintf(out, "    maildir:  %s\n", a->path);
		return;
	}
	fprintf(out, "    server:   %s %s:%u\n", protocols[a->protocol], a->host, a->port);
	fprintf(out, "    security: %s", config_security_name(a->security));
	if (a->security != SEC_NONE)
		fprintf(out, ", verify %s", a->tls.verify ? "yes" : "NO (certificates not checked)");
	fputc('\n', out);
	if (a->security != SEC_NONE) {
		if (a->tls.ca_file)
			fprintf(out, "    ca_file:  %s\n", a->tls.ca_file);
		if (a->tls.ca_path)
			fprintf(out, "    ca_path:  %s\n", a->tls.ca_path);
		if (a->tls.server_name)
			fprintf(out, "    server_name: %s\n", a->tls.server_name);
		if (a->tls.min_version || a->tls.max_version) {
			fprintf(out, "    tls versions: ");
			if (a->tls.min_version)
				fprintf(out, "1.%d", a->tls.min_version - 10);
			else
				fprintf(out, "default");
			if (a->tls.max_version)
				fprintf(out, " to 1.%d\n", a->tls.max_version - 10);
			else
				fprintf(out, " and up\n");
		}
		if (a->tls.ciphers)
			fprintf(out, "    ciphers:  %s\n", a->tls.ciphers);
		if (a->tls.ciphersuites)
			fprintf(out, "    ciphersuites: %s\n", a->tls.ciphersuites);
		if (a->tls.npins)
			fprintf(out, "    pinned keys: %zu\n", a->tls.npins);
	}
	fprintf(out, "    username: %s\n", a->username);
	switch (a->password_source) {
	case SECRET_FILE:
		fprintf(out, "    password: from file %s\n", a->password_ref);
		break;
	case SECRET_ENV:
		fprintf(out, "    password: from env %s\n", a->password_ref);
		break;
	case SECRET_INLINE:
		fprintf(out, "    password: written in the config file (not recommended)\n");
		break;
	case SECRET_NONE:
		break;
	}
	if (a->proxy.kind != PROXY_NONE) {
		fprintf(out, "    proxy:    %s://%s%s%s:%u", config_proxy_kind_name(a->proxy.kind),
			a->proxy.username ? a->proxy.username : "", a->proxy.username ? "@" : "",
			a->proxy.host, a->proxy.port);
		if (a->proxy.password_source == SECRET_FILE)
			fprintf(out, ", password from file %s", a->proxy.password_ref);
		else if (a->proxy.password_source == SECRET_ENV)
			fprintf(out, ", password from env %s", a->proxy.password_ref);
		fputc('\n', out);
	}
	if (a->oauth2.enabled) {
		const struct oauth_settings *o = &a->oauth2;
		fprintf(out, "    oauth2:   %s, flow %s, client %s%s%s\n",
			config_oauth_provider_name(o->provider), config_oauth_flow_name(o->flow),
			o->client_id, o->client_secret_source == SECRET_FILE ? ", secret from file "
				: o->client_secret_source == SECRET_ENV ? ", secret from env " : "",
			o->client_secret_ref ? o->client_secret_ref : "");
		fprintf(out, "              token endpoint %s\n", o->token_url);
		if (o->scope)
			fprintf(out, "              scope %s\n", o->scope);
	}
	fprintf(out, "    auth:     %s\n", config_auth_name(a->auth));
	fprintf(out, "    timeouts: connect %s, each read/write %s, session %s\n",
		str_fmt_duration_ms(a->connect_timeout_ms, t, sizeof(t)),
		str_fmt_duration_ms(a->io_timeout_ms, t2, sizeof(t2)),
		a->session_timeout_ms ? str_fmt_duration_ms(a->session_timeout_ms, t3, sizeof(t3))
				      : "unbounded");
	fprintf(out, "    concurrent runs: at most %u (the daemon)\n", a->max_concurrent_runs);
	fprintf(out, "    charset_fallback: %s\n",
		a->charset_fallback ? a->charset_fallback : "windows-1252 (default)");
}

/* Which stages clean the text: the rule files' (by name), or the default. */
static void print_preprocess(const struct config_job *j, FILE *out)
{
	const struct preprocess *pp = ruleset_preprocess(j->rules);
	if (!pp) {
		fprintf(out, "    preprocess: the shipped default pipeline\n");
		return;
	}
	size_t n = preprocess_stage_count(pp);
	fprintf(out, "    preprocess: %zu stage%s from the rule files%s", n, n == 1 ? "" : "s",
		n ? ":" : " (none: the text is kept as it is)");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s %s", i ? "," : "", preprocess_stage_name(pp, i));
	fputc('\n', out);
}

static void job_print(const struct config_job *j, FILE *out)
{
	char s1[32], s2[32], s3[32], when[CRON_DESCRIBE_MAX];
	fprintf(out, "  %s (line %u)\n", j->name, j->line);
	fprintf(out, "    account:  %s\n", j->account->name);
	fprintf(out, "    mailbox:  %s\n", j->mailbox);
	if (j->keep_on_server && j->mark_seen)
		fprintf(out, "    done mail: kept on the server, remembered, marked \\Seen "
			"(badmail stays unread)\n");
	else if (j->keep_on_server)
		fprintf(out, "    done mail: kept on the server, remembered\n");
	else if (j->account->protocol == PROTO_POP3)
		fprintf(out, "    done mail: deleted from the server; badmail stays there\n");
	if (j->archive_folder && !j->keep_on_server)
		fprintf(out, "    folders:  archive %s, badmail %s\n", j->archive_folder,
			j->badmail_folder);
	fprintf(out, "    schedule: %s\n", j->schedule);
	fprintf(out, "    when:     %s, time zone %s\n", cron_describe(j->cron, when, sizeof(when)),
		j->timezone ? j->timezone : "UTC (default)");
	fprintf(out, "    batch:    %u messages per transaction, keep raw mail: %s\n",
		(unsigned)j->batch_size, j->keep_raw ? "yes" : "no");
	fprintf(out, "    attach_html: %s\n", j->attach_html ? "yes" : "no");
	fprintf(out, "    limits:   message %s, %u parts, depth %u, headers %s, text %s\n",
		str_fmt_size(j->limits.max_size, s1, sizeof(s1)), (unsigned)j->limits.max_parts,
		(unsigned)j->limits.max_depth,
		str_fmt_size(j->limits.max_header_bytes, s2, sizeof(s2)),
		str_fmt_size(j->limits.max_text_bytes, s3, sizeof(s3)));
	if (j->rules)
		fprintf(out, "    rules:    %zu file(s), %zu fields, %zu statements\n",
			ruleset_file_count(j->rules), ruleset_field_count(j->rules),
			ruleset_statement_count(j->rules));
	else
		fprintf(out, "    rules:    none (one ticket per mail, or its follow-up ticket)\n");
	for (size_t i = 0; i < j->nrule_files; i++)
		fprintf(out, "      %s\n", j->rule_files[i]);
	print_preprocess(j, out);
	size_t nfolders = j->rules ? ruleset_folder_count(j->rules) : 0;
	for (size_t i = 0; i < nfolders; i++)
		fprintf(out, "%s%s", i ? ", " : "    move_to:  ", ruleset_folder(j->rules, i));
	if (nfolders)
		fputc('\n', out);
	const struct policy *p = &j->policy;
	static const char *const loops[] = {"note", "ignore", "ticket"};
	static const char *const bounces[] = {"attach", "ignore", "ticket"};
	fprintf(out, "    followup: tag %s, marker %s, references %s, subject %u days, "
		"non-participant %s, closed %s\n",
		p->subject_tag ? p->subject_tag : "off", p->body_marker ? p->body_marker : "off",
		p->references ? "on" : "off", (unsigned)p->subject_days,
		plan_stranger_name(p->stranger), plan_closed_name(p->closed));
	fprintf(out, "    loops:    auto-replies %s, bulk %s, bounces %s, %u new tickets per "
		"sender and hour%s\n", loops[p->auto_replies], loops[p->bulk], bounces[p->bounces],
		(unsigned)p->sender_cap, p->sender_cap ? "" : " (no cap)");
}

void config_print_summary(const struct config *cfg, FILE *out)
{
	fprintf(out, "config: %s\n", cfg->path);
	if (cfg->database_url_env) {
		fprintf(out, "database: from env %s\n", cfg->database_url_env);
	} else {
		char masked[1024];
		fprintf(out, "database: %s\n",
			config_mask_url(cfg->database_url, masked, sizeof(masked)));
	}
	fprintf(out, "log_level: %s\n", cfg->log_level ? cfg->log_level : "info (default)");
	fprintf(out, "log_format: %s\n", cfg->log_format ? cfg->log_format : "kv (default)");
	fprintf(out, "metrics_listen: %s\n", cfg->metrics_listen ? cfg->metrics_listen : "off");
	if (cfg->workers)
		fprintf(out, "workers: %u\n", cfg->workers);
	else
		fprintf(out, "workers: not set (--workers, else the default)\n");
	if (cfg->max_workers)
		fprintf(out, "max_workers: %u\n", cfg->max_workers);
	else
		fprintf(out, "max_workers: not set (--max-workers, else the default)\n");
	fprintf(out, "accounts: %zu\n", cfg->naccounts);
	for (size_t i = 0; i < cfg->naccounts; i++)
		account_print(&cfg->accounts[i], out);
	fprintf(out, "jobs: %zu\n", cfg->njobs);
	for (size_t i = 0; i < cfg->njobs; i++)
		job_print(&cfg->jobs[i], out);
}
