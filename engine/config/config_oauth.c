/*
 * oauth2: — an account that logs in with OAuth2 access tokens (README
 * "OAuth2"). The provider gives the defaults; everything can be set:
 *
 *   oauth2:
 *     provider: microsoft | google | generic
 *     tenant: contoso.onmicrosoft.com        microsoft only; default "organizations"
 *     client_id: 00000000-0000-0000-0000-000000000000
 *     client_secret_file: /run/secrets/app   or client_secret_env (public clients: none)
 *     flow: refresh_token | client_credentials   (app-only, microsoft)
 *     token_url / device_code_url / scope    overrides (generic: token_url required)
 *
 * For IMAP and POP3 accounts; Microsoft's default scope follows the
 * protocol (IMAP.AccessAsUser.All or POP.AccessAsUser.All).
 *
 * Endpoints must be https://; plain http:// is accepted only for a
 * loopback address (a token endpoint on the same machine).
 *
 * SECURITY: the client secret is read and registered by config_secret.c.
 */
#include "engine/config/config_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/util/buf.h"
#include "engine/util/xalloc.h"

static const char *const oauth_keys[] = {
	"provider", "tenant", "client_id", "client_secret_file", "client_secret_env",
	"token_url", "device_code_url", "scope", "flow", NULL,
};
/* in enum order */
static const char *const providers[] = {"microsoft", "google", "generic", NULL};
static const char *const flows[] = {"refresh_token", "client_credentials", NULL};

#define MS_LOGIN "https://login.microsoftonline.com/"
#define MS_SCOPE_IMAP "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access"
#define MS_SCOPE_POP "https://outlook.office365.com/POP.AccessAsUser.All offline_access"
#define MS_SCOPE_APP "https://outlook.office365.com/.default"
#define GOOGLE_TOKEN "https://oauth2.googleapis.com/token"
#define GOOGLE_DEVICE "https://oauth2.googleapis.com/device/code"
#define GOOGLE_SCOPE "https://mail.google.com/"

const char *config_oauth_provider_name(enum oauth_provider p)
{
	return (unsigned)p < 3 ? providers[p] : "?";
}

const char *config_oauth_flow_name(enum oauth_flow f)
{
	return (unsigned)f < 2 ? flows[f] : "?";
}

/* https://, or http:// to this machine only. */
static int endpoint_read(const struct yaml_tree_node *node, char **url_r, struct err *err)
{
	if (config_read_text(node, url_r, err) < 0)
		return -1;
	const char *u = *url_r;
	if (strncasecmp(u, "https://", 8) == 0 && u[8] && u[8] != '/')
		return 0;
	if (strncasecmp(u, "http://", 7) == 0) {
		const char *h = u + 7;
		static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]", NULL};
		for (const char *const *l = loopback; *l; l++) {
			size_t n = strlen(*l);
			if (strncasecmp(h, *l, n) == 0 && (h[n] == ':' || h[n] == '/' || !h[n]))
				return 0;
		}
		return yaml_tree_error(err, node, "must be an https:// URL (plain http:// only "
				       "to 127.0.0.1 or localhost)");
	}
	return yaml_tree_error(err, node, "must be an https:// URL");
}

/* Tenant ids and domains: letters, digits, '.', '-'. */
static int tenant_read(const struct yaml_tree_node *node, char **s_r, struct err *err)
{
	if (config_read_text(node, s_r, err) < 0)
		return -1;
	for (const char *p = *s_r; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return yaml_tree_error(err, node, "expected a tenant id or domain "
					       "(letters, digits, '.' and '-')");
	return 0;
}

static char *ms_url(const char *tenant, const char *what)
{
	struct buf b;
	buf_init(&b, 1024);
	buf_addf(&b, MS_LOGIN "%s/oauth2/v2.0/%s", tenant, what);
	return buf_detach(&b, NULL);
}

/* Fills the URLs and scope the admin left out from the provider's. */
static int defaults(struct config_account *a, const struct yaml_tree_node *map,
		    struct err *err)
{
	struct oauth_settings *o = &a->oauth2;
	bool app = o->flow == OAUTH_FLOW_CLIENT_CREDENTIALS;
	switch (o->provider) {
	case OAUTH_MICROSOFT:
		if (!o->tenant) {
			if (app)
				return yaml_tree_error(err, map, "flow: client_credentials needs "
						       "tenant: (the directory id or domain)");
			o->tenant = xstrdup("organizations");
		}
		if (!o->token_url)
			o->token_url = ms_url(o->tenant, "token");
		if (!o->device_code_url && !app)
			o->device_code_url = ms_url(o->tenant, "devicecode");
		if (!o->scope)
			o->scope = xstrdup(app ? MS_SCOPE_APP : a->protocol == PROTO_POP3
								  ? MS_SCOPE_POP : MS_SCOPE_IMAP);
		break;
	case OAUTH_GOOGLE:
		if (!o->token_url)
			o->token_url = xstrdup(GOOGLE_TOKEN);
		if (!o->device_code_url)
			o->device_code_url = xstrdup(GOOGLE_DEVICE);
		if (!o->scope)
			o->scope = xstrdup(GOOGLE_SCOPE);
		break;
	case OAUTH_GENERIC:
		if (!o->token_url)
			return yaml_tree_error(err, map, "provider: generic needs token_url:");
		break;
	}
	return 0;
}

int config_oauth_parse(struct config_account *a, const struct yaml_tree_node *map,
		       struct err *err)
{
	static const struct config_secret_keys keys = {
		"client_secret_file", "client_secret_env", NULL,
	};
	struct oauth_settings *o = &a->oauth2;
	const struct yaml_tree_node *n;
	struct config_secret s;
	int idx;
	if (yaml_tree_expect_mapping(map, err) < 0 || yaml_tree_check_keys(map, oauth_keys, err) < 0)
		return -1;
	/* IMAP and POP3 alike (a maildir account has no login: its parser
	 * refuses oauth2: before this) */
	if (a->auth != AUTH_AUTO && a->auth != AUTH_XOAUTH2 && a->auth != AUTH_OAUTHBEARER)
		return yaml_tree_error(err, yaml_tree_key_node(map), "an oauth2 account logs in "
				       "with auth: xoauth2, oauthbearer or auto, not %s",
				       config_auth_name(a->auth));
	o->enabled = true;
	o->client_secret_source = SECRET_NONE;
	if (yaml_tree_require(map, "provider", &n, err) < 0 ||
	    yaml_tree_read_enum(n, providers, &idx, err) < 0)
		return -1;
	o->provider = (enum oauth_provider)idx;
	if ((n = yaml_tree_get(map, "flow"))) {
		if (yaml_tree_read_enum(n, flows, &idx, err) < 0)
			return -1;
		o->flow = (enum oauth_flow)idx;
		if (o->flow == OAUTH_FLOW_CLIENT_CREDENTIALS && o->provider == OAUTH_GOOGLE)
			return yaml_tree_error(err, n, "Google has no client_credentials flow for "
					       "mail (service accounts are not supported)");
	}
	if ((n = yaml_tree_get(map, "tenant"))) {
		if (o->provider != OAUTH_MICROSOFT)
			return yaml_tree_error(err, yaml_tree_key_node(n), "only provider: "
					       "microsoft has a tenant");
		if (tenant_read(n, &o->tenant, err) < 0)
			return -1;
	}
	if (yaml_tree_require(map, "client_id", &n, err) < 0 ||
	    config_read_text(n, &o->client_id, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "token_url")) && endpoint_read(n, &o->token_url, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "device_code_url")) &&
	    endpoint_read(n, &o->device_code_url, err) < 0)
		return -1;
	if ((n = yaml_tree_get(map, "scope")) && config_read_text(n, &o->scope, err) < 0)
		return -1;
	int rc = config_secret_parse(map, a->name, &keys, o->flow == OAUTH_FLOW_CLIENT_CREDENTIALS,
				     &s, err);
	o->client_secret = s.value;
	o->client_secret_ref = s.ref;
	o->client_secret_source = s.source;
	if (rc < 0)
		return -1;
	return defaults(a, map, err);
}

void config_oauth_free(struct oauth_settings *o)
{
	free(o->tenant);
	free(o->client_id);
	config_secret_free(o->client_secret);
	free(o->client_secret_ref);
	free(o->token_url);
	free(o->device_code_url);
	free(o->scope);
	memset(o, 0, sizeof(*o));
}
