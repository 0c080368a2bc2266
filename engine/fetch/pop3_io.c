/*
 * SECURITY: reads untrusted server responses (through pop3_parse.c) and
 * logs server text only after log_clean(). Commands carrying a secret
 * (PASS, APOP, AUTH) are traced as "VERB ***", SASL responses as "***",
 * and SASL challenges without their text.
 *
 * The command layer: one command, one response (no pipelining: the
 * commands we send are few per message, and a server without PIPELINING
 * must not see a second one early), and CAPA.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/fetch/pop3_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define POP3_CAPS_MAX 200       /* CAPA lines kept; a hostile server may send more */
#define POP3_CAPA_BODY_MAX (64 * 1024)

const char *pop3_clean(const struct slice *s, char *out, size_t outlen)
{
	return log_clean(s->p, s->len, out, outlen);
}

/*
 * A command line for the debug log. A secret one shows its verb only (for
 * AUTH also the mechanism, which is not secret): "PASS ***",
 * "AUTH SCRAM-SHA-256 ***". A SASL response has no verb: "***".
 */
static void trace_send(const char *line, bool secret, bool response)
{
	if (log_get_level() > LOG_DEBUG)
		return;
	char clean[256];
	size_t len = strlen(line);
	if (response) {
		log_debug("pop3.send", "line=\"***\"");
		return;
	}
	if (secret) {
		const char *sp = strchr(line, ' ');
		if (sp && strncasecmp(line, "AUTH ", 5) == 0)
			sp = strchr(sp + 1, ' ');
		len = sp ? (size_t)(sp - line) : len;
		log_clean(line, len, clean, sizeof(clean));
		log_debug("pop3.send", "line=\"%s ***\"", clean);
		return;
	}
	log_clean(line, len, clean, sizeof(clean));
	log_debug("pop3.send", "line=\"%s\"", clean);
}

static void trace_recv(const struct pop3_response *r)
{
	if (log_get_level() > LOG_DEBUG)
		return;
	static const char *const names[] = {"+OK", "-ERR", "+"};
	char code[64], text[256];
	log_clean(r->code.p, r->code.len, code, sizeof(code));
	/* a SASL challenge is not secret, but says nothing useful either */
	log_clean(r->text.p, r->status == POP3_CONT ? 0 : r->text.len, text, sizeof(text));
	if (r->multiline)
		log_debug("pop3.recv", "status=%s code=\"%s\" text=\"%s\" body_bytes=%llu",
			  names[r->status], code, text, (unsigned long long)r->body_total);
	else
		log_debug("pop3.recv", "status=%s code=\"%s\" text=\"%s\"", names[r->status], code,
			  text);
}

static int write_all(struct pop3_client *c, const char *p, size_t len, struct err *err)
{
	if (net_conn_write(c->conn, p, len, err) < 0) {
		c->broken = true;
		return -1;
	}
	return 0;
}

static int send_line(struct pop3_client *c, const char *line, struct err *err)
{
	if (c->broken || c->quit)
		return err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable", c->host);
	size_t len = strlen(line);
	if (memchr(line, '\r', len) || memchr(line, '\n', len))
		return err_set(err, ERR_FATAL, "POP3 command with a line break (bug)");
	if (write_all(c, line, len, err) < 0)
		return -1;
	return write_all(c, "\r\n", 2, err);
}

int pop3_send_secret(struct pop3_client *c, const char *line, struct err *err)
{
	trace_send(line, true, true);
	return send_line(c, line, err);
}

int pop3_read(struct pop3_client *c, enum pop3_expect e, uint64_t max_body,
	      const struct pop3_response **r_r, struct err *err)
{
	if (c->broken)
		return err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable", c->host);
	pop3_parser_expect(c->parser, e, max_body);
	for (;;) {
		const char *p;
		size_t len, used;
		const struct pop3_response *r = NULL;
		if (net_conn_peek(c->conn, &p, &len, err) < 0) {
			c->broken = true;
			return -1;
		}
		enum pop3_parse_result res = pop3_parser_feed(c->parser, p, len, &used, &r);
		net_conn_consume(c->conn, used);
		if (res == POP3_PARSE_DONE) {
			trace_recv(r);
			*r_r = r;
			return 0;
		}
		if (res == POP3_PARSE_ERROR) {
			c->broken = true;
			return err_set(err, ERR_SOURCE, "protocol error from %s: %s", c->host,
				       pop3_parser_error_str(c->parser));
		}
	}
}

int pop3_cmd(struct pop3_client *c, const char *line, bool secret, enum pop3_expect e,
	     uint64_t max_body, const struct pop3_response **r_r, struct err *err)
{
	trace_send(line, secret, false);
	if (send_line(c, line, err) < 0)
		return -1;
	return pop3_read(c, e, max_body, r_r, err);
}

int pop3_err_from(struct pop3_client *c, const struct pop3_response *r, enum err_class cls,
		  const char *what, struct err *err)
{
	char text[256];
	if (slice_ieq(r->code, "IN-USE") || slice_ieq(r->code, "LOGIN-DELAY") ||
	    slice_ieq(r->code, "SYS/TEMP"))
		cls = ERR_TRANSIENT;
	else if (slice_ieq(r->code, "AUTH") || slice_ieq(r->code, "SYS/PERM"))
		cls = ERR_SOURCE;
	return err_set(err, cls, "%s on %s: %s", what, c->host,
		       pop3_clean(&r->text, text, sizeof(text)));
}

static void caps_clear(struct pop3_client *c)
{
	for (size_t i = 0; i < c->ncaps; i++)
		free(c->caps[i]);
	free(c->caps);
	c->caps = NULL;
	c->ncaps = 0;
	c->caps_known = false;
}

int pop3_capa(struct pop3_client *c, struct err *err)
{
	const struct pop3_response *r;
	caps_clear(c);
	if (pop3_cmd(c, "CAPA", false, POP3_EXPECT_MULTI, POP3_CAPA_BODY_MAX, &r, err) < 0)
		return -1;
	if (r->status != POP3_OK)
		return 0;  /* an RFC 1939 server: nothing known, every command may be tried */
	if (r->truncated) {
		c->broken = true;
		return err_set(err, ERR_SOURCE, "%s sent an oversized CAPA list", c->host);
	}
	c->caps_known = true;
	const char *p = r->body, *end = r->body + r->body_len;
	while (p < end && c->ncaps < POP3_CAPS_MAX) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t l = len;
		if (l && p[l - 1] == '\r')
			l--;
		if (l && !memchr(p, '\0', l)) {
			c->caps = xreallocarray(c->caps, c->ncaps + 1, sizeof(*c->caps));
			c->caps[c->ncaps++] = xmemdup0(p, l);
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* The first word of a CAPA line. */
static bool tag_is(const char *line, const char *tag)
{
	size_t n = strlen(tag);
	return strncasecmp(line, tag, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

bool pop3_has_capability(const struct pop3_client *c, const char *cap)
{
	for (size_t i = 0; i < c->ncaps; i++)
		if (tag_is(c->caps[i], cap))
			return true;
	return false;
}

size_t pop3_sasl_mechs(const struct pop3_client *c, char *buf, size_t buflen, const char **v,
		       size_t max)
{
	size_t n = 0, o = 0;
	for (size_t i = 0; i < c->ncaps && n < max; i++) {
		if (!tag_is(c->caps[i], "SASL"))
			continue;
		for (const char *p = c->caps[i] + 4; *p && n < max;) {
			while (*p == ' ')
				p++;
			const char *w = p;
			while (*p && *p != ' ')
				p++;
			size_t len = (size_t)(p - w);
			if (!len || len + 1 > buflen - o)
				continue;
			memcpy(buf + o, w, len);
			buf[o + len] = '\0';
			v[n++] = buf + o;
			o += len + 1;
		}
	}
	return n;
}
