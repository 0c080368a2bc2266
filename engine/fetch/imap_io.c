/*
 * SECURITY: reads untrusted server responses (through imap_parse.c) and
 * logs server text only after log_clean(). Commands carrying a secret
 * (LOGIN, AUTHENTICATE, SASL lines) are traced as "TAG VERB ***" and the
 * command buffer is wiped after sending them.
 *
 * The command layer: tags, building commands with strings and literals,
 * sending with synchronising literals, reading to the tagged response with
 * the untagged responses handed to a callback as they come (none are kept,
 * so a large FETCH costs one response's memory).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/fetch/imap_int.h"
#include "engine/util/log.h"
#include "engine/util/xalloc.h"

const char *imap_clean(const struct slice *s, char *out, size_t outlen)
{
	return log_clean(s->p, s->len, out, outlen);
}

static void trace_send(struct imap_client *c, const char *data, size_t len)
{
	if (log_get_level() > LOG_DEBUG)
		return;
	char clean[256];
	if (c->cmd_secret) {
		/* only "TAG VERB", never the arguments */
		log_clean(data, c->verb_end < len ? c->verb_end : len, clean, sizeof(clean));
		log_debug("imap.send", "line=\"%s ***\"", clean);
		return;
	}
	const char *eol = memchr(data, '\r', len);
	log_clean(data, eol ? (size_t)(eol - data) : len, clean, sizeof(clean));
	log_debug("imap.send", "line=\"%s\"", clean);
}

static void trace_recv(const struct imap_client *c, const struct imap_response *r)
{
	if (log_get_level() > LOG_DEBUG)
		return;
	char tag[64], name[64], text[256];
	if (r->kind == IMAP_RESP_CONTINUE && c->cmd_secret) {
		/* SASL challenges belong to the login exchange: never logged */
		log_debug("imap.recv", "tag=+ text=\"***\"");
		return;
	}
	log_clean(r->tag.p, r->tag.len, tag, sizeof(tag));
	if (r->status != IMAP_STATUS_NONE || r->kind == IMAP_RESP_CONTINUE) {
		char code[128];
		log_clean(r->code.p, r->code.len, code, sizeof(code));
		log_clean(r->text.p, r->text.len, text, sizeof(text));
		log_debug("imap.recv", "tag=%s status=%.*s code=\"%s\" text=\"%s\"", tag,
			  (int)r->name.len, r->name.p, code, text);
		return;
	}
	log_clean(r->name.p, r->name.len, name, sizeof(name));
	if (r->has_number)
		log_debug("imap.recv", "tag=%s number=%u name=%s args=%zu", tag, r->number,
			  name, r->nargs);
	else
		log_debug("imap.recv", "tag=%s name=%s args=%zu", tag, name, r->nargs);
}

void imap_cmd_begin(struct imap_client *c, const char *verb)
{
	c->tag_seq++;
	snprintf(c->tag, sizeof(c->tag), "A%04u", c->tag_seq);
	buf_reset(&c->cmd);
	c->nsync = 0;
	c->cmd_secret = false;
	buf_addf(&c->cmd, "%s %s", c->tag, verb);
	c->verb_end = c->cmd.len;
}

void imap_cmd_addf(struct imap_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		c->cmd.failed = true;
		return;
	}
	buf_add(&c->cmd, tmp, (size_t)n);
}

int imap_cmd_add_string(struct imap_client *c, const char *s, size_t len, bool allow_8bit,
			struct err *err)
{
	bool quotable = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\0')
			return err_set(err, ERR_SOURCE, "a NUL byte cannot be sent to an IMAP server");
		if (ch == '\r' || ch == '\n' || (ch >= 0x80 && !allow_8bit))
			quotable = false;
	}
	if (quotable) {
		buf_adds(&c->cmd, " \"");
		const char *p = s, *end = s + len;
		while (p < end) {
			/* copy runs without specials in one go */
			const char *q = p;
			while (q < end && *q != '"' && *q != '\\')
				q++;
			buf_add(&c->cmd, p, (size_t)(q - p));
			if (q < end) {
				buf_addc(&c->cmd, '\\');
				buf_addc(&c->cmd, *q++);
			}
			p = q;
		}
		buf_addc(&c->cmd, '"');
		return 0;
	}
	buf_addc(&c->cmd, ' ');
	return imap_cmd_add_literal(c, s, len, err);
}

int imap_cmd_add_literal(struct imap_client *c, const char *s, size_t len, struct err *err)
{
	bool nonsync = imap_has_capability(c, "LITERAL+") ||
		       (len <= 4096 && imap_has_capability(c, "LITERAL-"));
	buf_addf(&c->cmd, "{%zu%s}\r\n", len, nonsync ? "+" : "");
	if (!nonsync) {
		if (c->nsync == IMAP_MAX_SYNC)
			return err_set(err, ERR_FATAL, "too many literals in one command (bug)");
		c->sync[c->nsync++] = c->cmd.len;
	}
	buf_add(&c->cmd, s, len);
	return 0;
}

static int protocol_error(struct imap_client *c, struct err *err, const char *what)
{
	c->broken = true;
	return err_set(err, ERR_SOURCE, "protocol error from %s: %s", c->host, what);
}

int imap_read_response(struct imap_client *c, const struct imap_response **r_r,
		       struct err *err)
{
	if (c->broken)
		return err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable", c->host);
	for (;;) {
		const char *p;
		size_t len, used;
		const struct imap_response *r = NULL;
		if (net_conn_peek(c->conn, &p, &len, err) < 0) {
			c->broken = true;
			if (c->bye && err)
				err_prefix(err, "server said BYE");
			return -1;
		}
		enum imap_parse_result res = imap_parser_feed(c->parser, p, len, &used, &r);
		net_conn_consume(c->conn, used);
		if (res == IMAP_PARSE_DONE) {
			trace_recv(c, r);
			*r_r = r;
			return 0;
		}
		if (res == IMAP_PARSE_ERROR) {
			c->broken = true;
			if (imap_parser_error(c->parser) == IMAP_PERR_LITERAL_TOO_BIG)
				return err_set(err, ERR_MESSAGE,
					       "server sent a literal larger than the limit of %llu "
					       "bytes (max_literal)",
					       (unsigned long long)c->lim.max_literal);
			return protocol_error(c, err, imap_parser_error_str(c->parser));
		}
	}
}

static bool is_our_tag(const struct imap_client *c, const struct imap_response *r)
{
	return r->kind == IMAP_RESP_TAGGED && strlen(c->tag) == r->tag.len &&
	       memcmp(c->tag, r->tag.p, r->tag.len) == 0;
}

/* What every command does with untagged responses. */
static void untagged_common(struct imap_client *c, const struct imap_response *r)
{
	char text[256];
	if (r->has_number && slice_ieq(r->name, "EXISTS")) {
		c->exists = r->number;
	} else if (r->has_number && slice_ieq(r->name, "EXPUNGE")) {
		if (c->exists)
			c->exists--;
	} else if (r->status == IMAP_STATUS_NONE && slice_ieq(r->name, "CAPABILITY")) {
		imap_caps_set_args(c, r->args, r->nargs);
	} else if (r->status == IMAP_STATUS_BYE) {
		c->bye = true;
		log_info("imap.bye", "host=%s text=\"%s\"", c->host,
			 imap_clean(&r->text, text, sizeof(text)));
	} else if (r->status != IMAP_STATUS_NONE && slice_ieq(r->code, "ALERT")) {
		log_warn("imap.alert", "host=%s text=\"%s\"", c->host,
			 imap_clean(&r->text, text, sizeof(text)));
	}
}

static int write_cmd(struct imap_client *c, const char *p, size_t len, struct err *err)
{
	if (net_conn_write(c->conn, p, len, err) < 0) {
		c->broken = true;
		return -1;
	}
	return 0;
}

static void cmd_wipe(struct imap_client *c)
{
	if (c->cmd_secret && c->cmd.data) {
		explicit_bzero(c->cmd.data, c->cmd.cap);
		buf_reset(&c->cmd);
	}
}

int imap_cmd_run(struct imap_client *c, imap_resp_cb cb, void *ud,
		 const struct imap_response **tagged_r, struct err *err)
{
	int ret = -1, cb_ret = 0;
	struct err cb_err;
	const struct imap_response *r;
	err_clear(&cb_err);
	if (c->broken) {
		ret = err_set(err, ERR_TRANSIENT, "connection to %s is no longer usable", c->host);
		goto out;
	}
	if (c->cmd.failed) {
		ret = err_set(err, ERR_FATAL, "IMAP command too long");
		goto out;
	}
	buf_adds(&c->cmd, "\r\n");
	trace_send(c, c->cmd.data, c->cmd.len);
	size_t sent = 0;
	for (size_t i = 0; i < c->nsync; i++) {
		if (write_cmd(c, c->cmd.data + sent, c->sync[i] - sent, err) < 0)
			goto out;
		sent = c->sync[i];
		/* wait for "+"; a tagged answer instead means the command was refused */
		for (;;) {
			if (imap_read_response(c, &r, err) < 0)
				goto out;
			if (r->kind == IMAP_RESP_CONTINUE)
				break;
			if (is_our_tag(c, r) && r->status == IMAP_STATUS_OK) {
				/* the server cannot have done a command it has not seen whole */
				ret = protocol_error(c, err, "tagged OK before the command was complete");
				goto out;
			}
			if (is_our_tag(c, r)) {
				*tagged_r = r;  /* NO/BAD: the command was refused */
				ret = 0;
				goto out;
			}
			if (r->kind == IMAP_RESP_TAGGED) {
				ret = protocol_error(c, err, "response with an unknown tag");
				goto out;
			}
			untagged_common(c, r);
		}
	}
	if (write_cmd(c, c->cmd.data + sent, c->cmd.len - sent, err) < 0)
		goto out;
	cmd_wipe(c);
	for (;;) {
		if (imap_read_response(c, &r, err) < 0)
			goto out;
		if (is_our_tag(c, r))
			break;
		if (r->kind == IMAP_RESP_TAGGED) {
			ret = protocol_error(c, err, "response with an unknown tag");
			goto out;
		}
		if (r->kind == IMAP_RESP_UNTAGGED)
			untagged_common(c, r);
		if (r->kind == IMAP_RESP_CONTINUE && !cb) {
			ret = protocol_error(c, err, "unexpected continuation request");
			goto out;
		}
		if (r->kind == IMAP_RESP_CONTINUE && cb_ret < 0) {
			/* the callback gave up: cancel the exchange (RFC 3501 6.2.2) */
			if (write_cmd(c, "*\r\n", 3, err) < 0)
				goto out;
			continue;
		}
		if (cb && cb_ret == 0) {
			cb_ret = cb(c, ud, r, &cb_err);
			if (c->broken) {
				/* the callback's write failed: nothing more to read */
				if (err)
					*err = cb_err;
				goto out;
			}
			/* the server waits for an answer to this "+": cancel (RFC 3501 6.2.2) */
			if (cb_ret < 0 && r->kind == IMAP_RESP_CONTINUE &&
			    write_cmd(c, "*\r\n", 3, err) < 0)
				goto out;
		}
	}
	if (cb_ret < 0) {
		if (err)
			*err = cb_err;
		goto out;
	}
	*tagged_r = r;
	ret = 0;
out:
	cmd_wipe(c);
	return ret;
}

int imap_cmd_ok(struct imap_client *c, imap_resp_cb cb, void *ud, enum err_class no_cls,
		struct err *err)
{
	const struct imap_response *t;
	char verb[64], text[256];
	size_t vlen = c->verb_end > strlen(c->tag) + 1 ? c->verb_end - strlen(c->tag) - 1 : 0;
	/* keep the verb for the message before the buffer is reused/wiped */
	log_clean(c->cmd.data ? c->cmd.data + strlen(c->tag) + 1 : "", vlen, verb, sizeof(verb));
	if (imap_cmd_run(c, cb, ud, &t, err) < 0)
		return -1;
	if (t->status == IMAP_STATUS_OK)
		return 0;
	return err_set(err, t->status == IMAP_STATUS_NO ? no_cls : ERR_SOURCE,
		       "%s %s on %s: %s", verb, t->status == IMAP_STATUS_NO ? "refused" : "failed",
		       c->host, imap_clean(&t->text, text, sizeof(text)));
}

int imap_send_secret_line(struct imap_client *c, const char *line, size_t len, struct err *err)
{
	if (log_get_level() <= LOG_DEBUG)
		log_debug("imap.send", "line=\"***\"");
	if (write_cmd(c, line, len, err) < 0)
		return -1;
	return write_cmd(c, "\r\n", 2, err);
}

void imap_caps_clear(struct imap_client *c)
{
	for (size_t i = 0; i < c->ncaps; i++)
		free(c->caps[i]);
	free(c->caps);
	c->caps = NULL;
	c->ncaps = 0;
}

static void caps_add(struct imap_client *c, const char *s, size_t len)
{
	/* a hostile server could send any number: a generous, fixed cap */
	if (len == 0 || c->ncaps >= 1000)
		return;
	c->caps = xreallocarray(c->caps, c->ncaps + 1, sizeof(*c->caps));
	c->caps[c->ncaps++] = xmemdup0(s, len);
}

void imap_caps_set_args(struct imap_client *c, const struct imap_arg *args, size_t n)
{
	imap_caps_clear(c);
	for (size_t i = 0; i < n; i++)
		if (args[i].type == IMAP_ARG_ATOM)
			caps_add(c, args[i].str, args[i].len);
}

void imap_caps_set_text(struct imap_client *c, const char *text, size_t len)
{
	imap_caps_clear(c);
	size_t i = 0;
	while (i < len) {
		while (i < len && text[i] == ' ')
			i++;
		size_t s = i;
		while (i < len && text[i] != ' ')
			i++;
		caps_add(c, text + s, i - s);
	}
}

int imap_caps_fetch(struct imap_client *c, struct err *err)
{
	imap_caps_clear(c);
	imap_cmd_begin(c, "CAPABILITY");
	if (imap_cmd_ok(c, NULL, NULL, ERR_SOURCE, err) < 0)
		return -1;
	if (!imap_has_capability(c, "IMAP4rev1") && !imap_has_capability(c, "IMAP4rev2"))
		return err_set(err, ERR_SOURCE, "%s is not an IMAP4rev1 server", c->host);
	return 0;
}

bool imap_has_capability(const struct imap_client *c, const char *cap)
{
	for (size_t i = 0; i < c->ncaps; i++)
		if (str_ieq(c->caps[i], cap))
			return true;
	return false;
}
