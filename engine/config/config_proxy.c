/*
 * proxy: — the account's connections go through a proxy, written as the
 * URL admins know from curl and http_proxy:
 *
 *   proxy: socks5://[user@]host:port      SOCKS5; the proxy resolves names
 *   proxy: socks5h://[user@]host:port     the same (curl's spelling)
 *   proxy: http://[user@]host:port        HTTP CONNECT
 *   proxy_password_file: /run/secrets/proxy   or proxy_password_env: NAME
 *
 * A password inside the URL is refused: like the account's password it
 * belongs in a file or the environment, never in the config. A user name
 * may be percent-encoded (an '@' as %40).
 *
 * SECURITY: the proxy password is read and registered by config_secret.c;
 * errors quote the URL only when it holds no password.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/util/str.h"
#include "engine/util/xalloc.h"

/* RFC 1929 carries user and password in at most 255 bytes each. */
#define PROXY_CRED_MAX 255

const char *config_proxy_kind_name(enum proxy_kind k)
{
	switch (k) {
	case PROXY_NONE: return "none";
	case PROXY_SOCKS5: return "socks5";
	case PROXY_HTTP: return "http";
	}
	return "?";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into a fresh string; NULL on a bad escape or
 * a decoded control character. */
static char *pct_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static int url_error(const struct yaml_tree_node *node, struct err *err, const char *why)
{
	return yaml_tree_error(err, node, "%s; expected socks5://[user@]host:port or "
			       "http://[user@]host:port", why);
}

static int url_parse(struct proxy_settings *p, const struct yaml_tree_node *node,
		     struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(node, &s, err) < 0)
		return -1;
	const char *rest;
	if (strncasecmp(s, "socks5://", 9) == 0) {
		p->kind = PROXY_SOCKS5;
		rest = s + 9;
	} else if (strncasecmp(s, "socks5h://", 10) == 0) {
		p->kind = PROXY_SOCKS5;
		rest = s + 10;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		p->kind = PROXY_HTTP;
		rest = s + 7;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		return url_error(node, err, "a TLS connection to the proxy itself is not "
				 "supported (the mail session inside is encrypted anyway)");
	} else if (strncasecmp(s, "socks4", 6) == 0) {
		return url_error(node, err, "SOCKS4 is not supported");
	} else {
		return url_error(node, err, "unknown proxy type");
	}
	for (const char *c = rest; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return url_error(node, err, "spaces or control characters in the URL");
	const char *at = strrchr(rest, '@');
	if (at) {
		size_t ulen = (size_t)(at - rest);
		/* not quoted: this part may be a password */
		if (memchr(rest, ':', ulen))
			return yaml_tree_error(err, node, "a password in the proxy URL is refused: "
					       "put it in proxy_password_file or proxy_password_env");
		p->username = ulen ? pct_decode(rest, ulen) : NULL;
		if (!p->username)
			return url_error(node, err, "bad user name before '@'");
		if (strlen(p->username) > PROXY_CRED_MAX)
			return url_error(node, err, "user name longer than 255 bytes");
		rest = at + 1;
	}
	size_t hlen = strcspn(rest, "/?#");
	if (rest[hlen] && strcmp(rest + hlen, "/") != 0)
		return url_error(node, err, "a path after host:port");
	const char *host = rest, *colon;
	if (*host == '[') {
		const char *close = memchr(host, ']', hlen);
		if (!close)
			return url_error(node, err, "unclosed '[' of an IPv6 address");
		p->host = xmemdup0(host + 1, (size_t)(close - host - 1));
		colon = close + 1 < rest + hlen && close[1] == ':' ? close + 1 : NULL;
		if (!colon)
			return url_error(node, err, "missing :port");
	} else {
		colon = memchr(host, ':', hlen);
		if (!colon)
			return url_error(node, err, "missing :port");
		p->host = xmemdup0(host, (size_t)(colon - host));
		if (strchr(p->host, ':'))
			return url_error(node, err, "write an IPv6 address in brackets");
	}
	if (!p->host[0])
		return url_error(node, err, "missing host");
	uint64_t port;
	size_t plen = (size_t)(rest + hlen - colon - 1);
	if (plen == 0 || str_parse_u64(colon + 1, plen, 65535, &port) < 0 || port == 0)
		return url_error(node, err, "bad port (1-65535)");
	p->port = (unsigned)port;
	return 0;
}

int config_proxy_parse(struct config_account *a, const struct yaml_tree_node *map,
		       struct err *err)
{
	static const struct config_secret_keys keys = {
		"proxy_password_file", "proxy_password_env", NULL,
	};
	const struct yaml_tree_node *node = yaml_tree_get(map, "proxy");
	struct proxy_settings *p = &a->proxy;
	struct config_secret s;
	p->password_source = SECRET_NONE;
	if (!node) {
		const struct yaml_tree_node *n = yaml_tree_get(map, keys.file);
		if (n || (n = yaml_tree_get(map, keys.env)))
			return yaml_tree_error(err, yaml_tree_key_node(n), "a proxy password "
					       "without proxy:");
		return 0;
	}
	if (url_parse(p, node, err) < 0)
		return -1;
	int rc = config_secret_parse(map, a->name, &keys, p->username != NULL, &s, err);
	p->password = s.value;
	p->password_ref = s.ref;
	p->password_source = s.source;
	if (rc < 0)
		return -1;
	if (p->password && !p->username)
		return yaml_tree_error(err, yaml_tree_key_node(yaml_tree_get(map, s.source ==
						SECRET_FILE ? keys.file : keys.env)),
				       "a proxy password needs a user name in the proxy URL "
				       "(socks5://user@host:port)");
	if (p->password && strlen(p->password) > PROXY_CRED_MAX)
		return yaml_tree_error(err, node, "the proxy password is longer than 255 bytes");
	return 0;
}

void config_proxy_free(struct proxy_settings *p)
{
	free(p->host);
	free(p->username);
	config_secret_free(p->password);
	free(p->password_ref);
	memset(p, 0, sizeof(*p));
}
