/*
 * accounts: — server, TLS settings and credentials of each mailbox account,
 * or for a Maildir account (protocol: maildir) just its path.
 *
 * SECURITY: the password is read from a file, the environment, or (with a
 * warning) the config itself (config_secret.c). It is registered with
 * log_add_secret() at once and never put into an error message: errors
 * about it name the key, the file or the variable only.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "engine/util/base64.h"
#include "engine/util/log.h"
#include "engine/util/str.h"
#include "engine/util/xalloc.h"

#define TIMEOUT_DEFAULT_MS 30000
#define TIMEOUT_MIN_MS 100
#define TIMEOUT_MAX_MS (3600 * 1000)
#define SESSION_TIMEOUT_MAX_MS (24 * 3600 * 1000ULL)

static const char *const account_keys[] = {
	"protocol", "host", "port", "security", "tls", "username", "password_file",
	"password_env", "password", "auth", "timeout", "connect_timeout", "io_timeout",
	"session_timeout", "charset_fallback", "path", "proxy", "proxy_password_file",
	"proxy_password_env", "oauth2", "max_concurrent_runs", NULL,
};
/* The keys of a server account that a Maildir account has no use for. */
static const char *const server_only_keys[] = {
	"host", "port", "security", "tls", "username", "password_file", "password_env",
	"password", "auth", "timeout", "connect_timeout", "io_timeout", "session_timeout",
	"proxy", "proxy_password_file", "proxy_password_env", "oauth2", "max_concurrent_runs",
	NULL,
};
static const char *const tls_keys[] = {
	"verify", "ca_file", "ca_path", "min_version", "max_version", "server_name",
	"ciphers", "ciphersuites", "pin_sha256", NULL,
};
/* Same order as the enums in config.h. */
static const char *const protocols[] = {"imap", "pop3", "maildir", NULL};
static const char *const securities[] = {"tls", "starttls", "starttls-optional", "none", NULL};
/* in enum auth_method's order */
static const char *const auths[] = {
	"auto", "plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256", "ntlm",
	"xoauth2", "oauthbearer", "apop", "user", NULL,
};

const char *config_security_name(enum security sec)
{
	return (unsigned)sec < sizeof(securities) / sizeof(securities[0]) - 1 ? securities[sec]
									       : "?";
}

const char *config_auth_name(enum auth_method m)
{
	return (unsigned)m < sizeof(auths) / sizeof(auths[0]) - 1 ? auths[m] : "?";
}

const struct config_account *config_find_account(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->naccounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

static unsigned port_default(enum protocol proto, enum security sec)
{
	if (proto == PROTO_IMAP)
		return sec == SEC_TLS ? 993 : 143;
	return sec == SEC_TLS ? 995 : 110;
}

/* "1.0".."1.3", plain (1.2 looks like a float but its text is kept) or quoted. */
static int tls_version_read(const struct yaml_tree_node *node, int *v_r, struct err *err)
{
	static const char *const names[] = {"1.0", "1.1", "1.2", "1.3"};
	if (node->kind == YAML_TREE_SCALAR) {
		for (int i = 0; i < 4; i++) {
			if (node->len == 3 && memcmp(node->value, names[i], 3) == 0) {
				*v_r = 10 + i;
				return 0;
			}
		}
	}
	char got[96];
	return yaml_tree_error(err, node,
			       "expected a TLS version \"1.0\", \"1.1\", \"1.2\" or \"1.3\", got %s",
			       yaml_tree_describe(node, got, sizeof(got)));
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One pin: the SHA-256 of the server's SubjectPublicKeyInfo, as base64
 * (what `openssl ... | openssl dgst -sha256 -binary | base64` and HPKP
 * print; curl's "sha256//" prefix allowed) or as 64 hex digits (colons
 * allowed).
 */
static int pin_read(const struct yaml_tree_node *node, unsigned char out[32], struct err *err)
{
	const char *s;
	if (yaml_tree_read_string(node, &s, err) < 0)
		return -1;
	if (str_has_prefix(s, "sha256//"))
		s += strlen("sha256//");
	size_t len = strlen(s), n = 0;
	bool hex = true;
	for (size_t i = 0; i < len && hex; i++) {
		if (s[i] == ':')
			continue;
		if (hex_val(s[i]) < 0 || n == 64)
			hex = false;
		else
			n++;
	}
	if (hex && n == 64) {
		for (size_t i = 0, k = 0; i < len; i++) {
			if (s[i] == ':')
				continue;
			if (k % 2 == 0)
				out[k / 2] = (unsigned char)(hex_val(s[i]) << 4);
			else
				out[k / 2] |= (unsigned char)hex_val(s[i]);
			k++;
		}
		return 0;
	}
	unsigned char tmp[48];
	size_t dlen = 0;
	if (len == 44 && base64_decode(s, len, tmp, &dlen) == 0 && dlen == 32) {
		memcpy(out, tmp, 32);
		return 0;
	}
	char got[96];
	return yaml_tree_error(err, node, "expected the SHA-256 of the server's public key "
			       "(44 characters of base64, or 64 hex digits), got %s",
			       yaml_tree_describe(node, got, sizeof(got)));
}

static int pins_parse(struct tls_settings *tls, const struct yaml_tree_node *node,
		      struct err *err)
{
	if (node->kind == YAML_TREE_SEQUENCE) {
		if (node->nitems == 0)
			return yaml_tree_error(err, node, "expected at least one pin");
		if (node->nitems > TLS_MAX_PINS)
			return yaml_tree_error(err, node, "at most %d pins (the current key and "
					       "the next ones)", TLS_MAX_PINS);
		for (size_t i = 0; i < node->nitems; i++)
			if (pin_read(node->items[i], tls->pins[i], err) < 0)
				return -1;
		tls->npins = node->nitems;
		return 0;
	}
	if (pin_read(node, tls->pins[0], err) < 0)
		return -1;
	tls->npins = 1;
	return 0;
}

/* OpenSSL cipher strings: printable ASCII, checked by OpenSSL when used. */
static int cipher_list_read(const struct yaml_tree_node *node, char **s_r, struct err *err)
{
	if (config_read_text(node, s_r, err) < 0)
		return -1;
	for (const char *p = *s_r; *p; p++) {
		if ((unsigned char)*p >= 0x7f || *p == ' ' || *p == '"') {
			free(*s_r);
			*s_r = NULL;
			return yaml_tree_error(err, node, "expected an OpenSSL cipher list such as "
					       "\"ECDHE+AESGCM:ECDHE+CHACHA20\" (no spaces)");
		}
	}
	return 0;
}

static int tls_parse(struct tls_settings *tls, const struct yaml_tree_node *map,
		     struct err *err)
{
	const struct yaml_tree_node *n, *min_node;
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, tls_keys, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "verify")) && yaml_tree_read_bool(n, &tls->verify, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "ca_file")) && config_read_text(n, &tls->ca_file, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "ca_path")) && config_read_text(n, &tls->ca_path, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "server_name")) &&
	    config_read_text(n, &tls->server_name, err) < 0)
		return -1;
	if ((min_node = yaml_tree_get(map, "min_version")) &&
	    tls_version_read(min_node, &tls->min_version, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "max_version")) &&
	    tls_version_read(n, &tls->max_version, err) < 0)
		return -1;
	if (min_node && tls->max_version && tls->min_version > tls->max_version)
		return yaml_tree_error(err, min_node,
				       "min_version 1.%d is higher than max_version 1.%d",
				       tls->min_version - 10, tls->max_version - 10);
	if ((n = yaml_tree_get(map, "ciphers")) && cipher_list_read(n, &tls->ciphers, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "ciphersuites")) &&
	    cipher_list_read(n, &tls->ciphersuites, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "pin_sha256")) && pins_parse(tls, n, err) < 0)
		return -1;
	return 0;
}

/*
 * A timeout: a bare number is milliseconds ("1500"), or a duration with a
 * unit ("500ms", "30s", "2m").
 */
static int timeout_read(const struct yaml_tree_node *node, uint64_t min_ms, uint64_t max_ms,
			uint64_t *ms_r, struct err *err)
{
	uint64_t v;
	if (node->kind == YAML_TREE_SCALAR && node->len > 0 &&
	    strspn(node->value, "0123456789") == node->len &&
	    str_parse_u64(node->value, node->len, UINT64_MAX / 2, &v) == 0) {
		if (v >= min_ms && v <= max_ms) {
			*ms_r = v;
			return 0;
		}
		char lo[32], hi[32];
		return yaml_tree_error(err, node, "must be between %s and %s, got %llu ms",
				       str_fmt_duration_ms(min_ms, lo, sizeof(lo)),
				       str_fmt_duration_ms(max_ms, hi, sizeof(hi)),
				       (unsigned long long)v);
	}
	return yaml_tree_read_duration_ms(node, min_ms, max_ms, ms_r, err);
}

static int timeouts_parse(struct config_account *a, const struct yaml_tree_node *map,
			  struct err *err)
{
	const struct yaml_tree_node *n;
	if ((n = yaml_tree_get(map, "timeout")) &&
	    timeout_read(n, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &a->timeout_ms, err) < 0)
		return -1;
	a->connect_timeout_ms = a->timeout_ms;
	a->io_timeout_ms = a->timeout_ms;
	if ((n = yaml_tree_get(map, "connect_timeout")) &&
	    timeout_read(n, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &a->connect_timeout_ms, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "io_timeout")) &&
	    timeout_read(n, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, &a->io_timeout_ms, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "session_timeout")) &&
	    timeout_read(n, 1000, SESSION_TIMEOUT_MAX_MS, &a->session_timeout_ms, err) < 0)
		return -1;
	return 0;
}

/* password_file / password_env / password; none with oauth2 (the token
 * endpoint gives the secret). */
static int password_parse(struct config_account *a, const struct yaml_tree_node *map,
			  struct err *err)
{
	static const struct config_secret_keys keys = {
		"password_file", "password_env", "password",
	};
	struct config_secret s;
	if (a->oauth2.enabled) {
		const struct yaml_tree_node *n;
		for (const char *const *k = &keys.file; k <= &keys.inline_; k++)
			if ((n = yaml_tree_get(map, *k)))
				return yaml_tree_error(err, yaml_tree_key_node(n),
						       "an oauth2 account logs in with tokens from "
						       "its token endpoint, not a password");
		a->password_source = SECRET_NONE;
		return 0;
	}
	int rc = config_secret_parse(map, a->name, &keys, true, &s, err);
	a->password = s.value;
	a->password_ref = s.ref;
	a->password_source = s.source;
	return rc;
}

/* The account's "code page": a charset name the converter knows. */
static int charset_fallback_parse(struct config_account *a, const struct yaml_tree_node *node,
				  struct err *err)
{
	if (config_read_text(node, &a->charset_fallback, err) < 0)
		return -1;
	if (!mime_charset_known(a->charset_fallback)) {
		char q[96];
		yaml_tree_quote(node, q, sizeof(q));
		return yaml_tree_error(err, node, "unknown charset %s (e.g. \"windows-1252\", "
				       "\"koi8-r\", \"shift_jis\")", q);
	}
	return 0;
}

/*
 * protocol: maildir — a directory on this machine, read directly. Only
 * `path` applies; a server key is refused rather than ignored, so a config
 * half converted from IMAP does not look like it still connects somewhere.
 */
static int maildir_account_parse(struct config_account *a, const struct yaml_tree_node *map,
				 struct err *err)
{
	const struct yaml_tree_node *n;
	for (const char *const *k = server_only_keys; *k; k++)
		if ((n = yaml_tree_get(map, *k)))
			return yaml_tree_error(err, yaml_tree_key_node(n),
					       "not used by a maildir account (it reads path: "
					       "on this machine)");
	if (yaml_tree_require(map, "path", &n, err) < 0 || config_read_text(n, &a->path, err) < 0)
		return -1;
	/* the daemon's working directory is nobody's business: say where */
	if (a->path[0] != '/')
		return yaml_tree_error(err, n, "must be an absolute path");
	return 0;
}

static int account_parse(struct config_account *a, const struct yaml_tree_node *key,
			 const struct yaml_tree_node *map, struct err *err)
{
	const struct yaml_tree_node *n;
	int idx;
	a->name = xstrdup(key->value);
	a->line = key->line;
	a->column = key->column;
	a->tls.verify = true;
	a->security = SEC_TLS;
	a->auth = AUTH_AUTO;
	a->timeout_ms = TIMEOUT_DEFAULT_MS;
	if (yaml_tree_expect_mapping(map, err) < 0 ||
	    yaml_tree_check_keys(map, account_keys, err) < 0)
		return -1;
	if (yaml_tree_require(map, "protocol", &n, err) < 0 ||
	    yaml_tree_read_enum(n, protocols, &idx, err) < 0)
		return -1;
	a->protocol = (enum protocol)idx;
	/* undeclared 8-bit text is the same problem whatever the mail came through */
	if ((n = yaml_tree_get(map, "charset_fallback")) && charset_fallback_parse(a, n, err) < 0)
		return -1;
	if (a->protocol == PROTO_MAILDIR)
		return maildir_account_parse(a, map, err);
	if ((n = yaml_tree_get(map, "path")))
		return yaml_tree_error(err, yaml_tree_key_node(n),
				       "only a maildir account has a path");
	if (yaml_tree_require(map, "host", &n, err) < 0 || config_read_text(n, &a->host, err) < 0)
		return -1;
	if (yaml_tree_require(map, "username", &n, err) < 0 ||
	    config_read_text(n, &a->username, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "security"))) {
		if (yaml_tree_read_enum(n, securities, &idx, err) < 0)
			return -1;
		a->security = (enum security)idx;
	}
	a->port = port_default(a->protocol, a->security);
	if ((n = yaml_tree_get(map, "port"))) {
		uint64_t port;
		if (yaml_tree_read_uint(n, 1, 65535, &port, err) < 0)
			return -1;
		a->port = (unsigned)port;
	}
	if ((n = yaml_tree_get(map, "tls")) && tls_parse(&a->tls, n, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "auth"))) {
		if (yaml_tree_read_enum(n, auths, &idx, err) < 0)
			return -1;
		a->auth = (enum auth_method)idx;
		if ((a->auth == AUTH_APOP || a->auth == AUTH_USER) && a->protocol != PROTO_POP3)
			return yaml_tree_error(err, n, "%s is a POP3 login; an IMAP account uses "
					       "auto or a SASL mechanism", auths[idx]);
	}
	if (timeouts_parse(a, map, err) < 0)
		return -1;
	/* a dead server then holds this many of the daemon's workers at most */
	a->max_concurrent_runs = CONFIG_ACCOUNT_RUNS_DEFAULT;
	if ((n = yaml_tree_get(map, "max_concurrent_runs"))) {
		uint64_t v;
		if (yaml_tree_read_uint(n, 1, CONFIG_WORKERS_MAX, &v, err) < 0)
			return -1;
		a->max_concurrent_runs = (unsigned)v;
	}
	if (config_proxy_parse(a, map, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "oauth2")) && config_oauth_parse(a, n, err) < 0)
		return -1;
	if (password_parse(a, map, err) < 0)
		return -1;
	/* works, but an admin should see it every time the daemon starts */
	if (a->security == SEC_NONE && a->auth == AUTH_APOP)
		log_warn("config.plaintext", "file=%s:%u account=%s msg=\"security: none sends "
			 "mail unencrypted (APOP keeps the password off the wire)\"", key->file,
			 key->line, a->name);
	else if (a->security == SEC_NONE)
		log_warn("config.plaintext", "file=%s:%u account=%s msg=\"security: none sends "
			 "the password unencrypted\"", key->file, key->line, a->name);
	else if (a->security == SEC_STARTTLS_OPTIONAL)
		log_warn("config.starttls_optional", "file=%s:%u account=%s msg=\"security: "
			 "starttls-optional goes on without encryption when the server does not "
			 "offer STARTTLS\"", key->file, key->line, a->name);
	if (a->security != SEC_NONE && !a->tls.verify)
		log_warn("config.tls_verify_off", "file=%s:%u account=%s msg=\"certificate "
			 "verification is off\"", key->file, key->line, a->name);
	return 0;
}

int config_accounts_parse(struct config *cfg, const struct yaml_tree_node *accounts,
			  struct err *err)
{
	if (yaml_tree_expect_mapping(accounts, err) < 0)
		return -1;
	if (accounts->npairs == 0)
		return yaml_tree_error(err, accounts, "at least one account is required");
	/* allocated once: jobs keep pointers into this array */
	cfg->accounts = xcalloc(accounts->npairs, sizeof(*cfg->accounts));
	for (size_t i = 0; i < accounts->npairs; i++) {
		const struct yaml_tree_pair *p = &accounts->pairs[i];
		if (config_check_name(p->key, "account", err) < 0)
			return -1;
		cfg->naccounts = i + 1;
		if (account_parse(&cfg->accounts[i], p->key, p->value, err) < 0)
			return -1;
		/* the token table lives in the help desk's database */
		cfg->accounts[i].oauth2.database_url = cfg->database_url;
	}
	return 0;
}
