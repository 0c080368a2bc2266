/*
 * mail2ticket preprocess: runs the message model and a preprocessing
 * pipeline over mail files (or plain text) and prints what an agent would
 * read, optionally with the trace of what was removed, or as JSON (one
 * object a line). Admins use it to try rules; the accuracy bench uses it.
 * The pipeline is the one a job would run (rules/ruleset.h): a job's rule
 * files (--job, with its message limits and fallback charset), or the rule
 * files given (--rules), their `preprocess:` stages, else the shipped
 * default.
 *
 * SECURITY: the inputs are mail; they are read up to the message size
 * limit and go through the same parser and limits as a job run.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "engine/cli/cli.h"
#include "engine/config/config.h"
#include "engine/mime/message.h"
#include "engine/util/buf.h"
#include "engine/util/json.h"
#include "rules/preprocess.h"
#include "rules/ruleset.h"

struct pp_cli {
	const struct preprocess *pp;
	bool json, trace, text;
	struct mime_options mopt;
};

static void pp_usage(FILE *out)
{
	fputs("usage: mail2ticket preprocess [-c FILE --job JOB | --rules FILE...] [--json] [--trace]\n"
	      "                              [--text] MAIL...\n"
	      "  --job JOB     what the job runs: its rule files' stages and its message limits\n"
	      "  --rules FILE  the `preprocess:` stages of rule files (repeat for several, in order)\n"
	      "  (a job or rule files without `preprocess:`, and neither option: the shipped packs)\n"
	      "  --json        one JSON object a line: file, client, text, removed\n"
	      "  --trace       after the text, what each stage and rule removed\n"
	      "  --text        the inputs are plain text, not mail\n"
	      "  MAIL          a file, or - for standard input\n",
	      out);
}

/* The whole file (at most max bytes); NULL with a message on stderr. */
static char *read_input(const char *path, uint64_t max, size_t *len_r)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "mail2ticket: preprocess: cannot open \"%s\"\n", path);
		return NULL;
	}
	struct buf b;
	buf_init(&b, max);
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && !b.failed)
		buf_add(&b, chunk, n);
	bool bad = ferror(f) || b.failed;
	if (f != stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "mail2ticket: preprocess: cannot read \"%s\"%s\n", path,
			b.failed ? " (over the message size limit)" : "");
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, len_r);
}

static void print_json(const char *file, const struct preprocess_result *res)
{
	struct buf b;
	buf_init(&b, (size_t)1 << 31);
	buf_adds(&b, "{\"file\":");
	json_add_string(&b, file, strlen(file));
	buf_adds(&b, ",\"client\":");
	if (res->client)
		json_add_string(&b, res->client, strlen(res->client));
	else
		buf_adds(&b, "null");
	buf_adds(&b, ",\"text\":");
	json_add_string(&b, res->text, res->len);
	buf_addf(&b, ",\"kept_all\":%s,\"budget_spent\":%s,\"base_from_html\":%s,\"removed\":[",
		 res->kept_all ? "true" : "false", res->budget_spent ? "true" : "false",
		 res->base_from_html ? "true" : "false");
	for (size_t i = 0; i < res->nremoved; i++) {
		const struct preprocess_removal *x = &res->removed[i];
		char at[600];
		snprintf(at, sizeof(at), "%s:%u:%u", x->file, x->line, x->column);
		buf_adds(&b, i ? ",{\"stage\":" : "{\"stage\":");
		json_add_string(&b, x->stage, strlen(x->stage));
		buf_adds(&b, ",\"rule\":");
		json_add_string(&b, x->rule, strlen(x->rule));
		buf_adds(&b, ",\"at\":");
		json_add_string(&b, at, strlen(at));
		buf_addf(&b, ",\"start\":%zu,\"end\":%zu,\"text\":", x->start, x->end);
		json_add_string(&b, x->text, x->len);
		buf_addc(&b, '}');
	}
	buf_addf(&b, "],\"elapsed_us\":%llu}\n", (unsigned long long)res->elapsed_us);
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static void print_json_error(const char *file, const char *msg)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_adds(&b, "{\"file\":");
	json_add_string(&b, file, strlen(file));
	buf_adds(&b, ",\"error\":");
	json_add_string(&b, msg, strlen(msg));
	buf_adds(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static void print_trace(const struct preprocess_result *res)
{
	if (res->kept_all)
		printf("--- every stage together would have removed all text: kept as it was\n");
	if (res->budget_spent)
		printf("--- the time budget ran out: kept as it was\n");
	for (size_t i = 0; i < res->nremoved; i++) {
		const struct preprocess_removal *x = &res->removed[i];
		printf("--- removed by %s/%s (%s:%u:%u), bytes %zu-%zu:\n", x->stage, x->rule,
		       x->file, x->line, x->column, x->start, x->end);
		const char *p = x->text, *end = x->text + x->len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			printf("| %.*s\n", (int)n, p);
			p += n + (nl ? 1 : 0);
		}
	}
}

/* One input; 0, or -1 when it could not be read or processed. */
static int preprocess_one(struct pp_cli *c, const char *path, bool many)
{
	struct arena *a = arena_new();
	struct message *msg = NULL;
	struct preprocess_result res;
	struct err err = {0};
	size_t len = 0;
	int rc = -1;
	char *raw = read_input(path, c->mopt.limits.max_size, &len);
	if (!raw)
		goto out;
	if (c->text)
		msg = preprocess_text_message(a, raw, len);
	else if (mime_parse(raw, len, &c->mopt, a, &msg, &err) < 0)
		goto fail;
	if (preprocess_run(c->pp, msg, a, &res, &err) < 0)
		goto fail;
	if (c->json) {
		print_json(path, &res);
	} else {
		if (many)
			printf("==> %s <==\n", path);
		fwrite(res.text, 1, res.len, stdout);
		if (res.len && res.text[res.len - 1] != '\n')
			putchar('\n');
		if (c->trace)
			print_trace(&res);
	}
	rc = 0;
	goto out;
fail:
	if (c->json)
		print_json_error(path, err.msg);
	fprintf(stderr, "mail2ticket: preprocess: %s: %s\n", path, err.msg);
out:
	free(raw);
	arena_free(&a);
	return rc;
}

#define PP_MAX_RULE_FILES 32

/*
 * The pipeline: a job's (its rules, message options), rule files', or the
 * default. *cfg_r / *rs_r / *own_r hold what backs c->pp, for the caller
 * to free. EX_OK, or an exit code after a message on stderr.
 */
static int pipeline_load(struct pp_cli *c, const char *config_path, const char *job,
			 const char *const *rules, size_t nrules, struct config **cfg_r,
			 struct ruleset **rs_r, struct preprocess **own_r)
{
	struct err err = {0};
	const struct ruleset *rs = NULL;
	if (job) {
		if (config_load(config_path, cfg_r, &err) < 0) {
			fprintf(stderr, "mail2ticket: %s\n", err.msg);
			return EX_CONFIG;
		}
		const struct config_job *j = config_find_job(*cfg_r, job);
		if (!j) {
			fprintf(stderr, "mail2ticket: preprocess: no job \"%s\" in %s\n", job,
				config_path);
			return EX_USAGE;
		}
		rs = j->rules;
		c->mopt.limits = j->limits;
		c->mopt.charset_fallback = j->account->charset_fallback;
		c->mopt.attach_html = j->attach_html;
	} else if (nrules) {
		if (ruleset_load(rules, nrules, rs_r, &err) < 0) {
			fprintf(stderr, "mail2ticket: %s\n", err.msg);
			return EX_CONFIG;
		}
		rs = *rs_r;
	}
	if (ruleset_pipeline(rs, &c->pp, own_r, &err) < 0) {
		fprintf(stderr, "mail2ticket: %s\n", err.msg);
		return EX_CONFIG;
	}
	return EX_OK;
}

int cli_preprocess(const struct cli_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"job", required_argument, NULL, 'j'},
		{"rules", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'J'},
		{"trace", no_argument, NULL, 't'},
		{"text", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct pp_cli c = {0};
	const char *rules[PP_MAX_RULE_FILES];
	size_t nrules = 0;
	const char *job = NULL, *config_path = o->config_path;
	struct config *cfg = NULL;
	struct ruleset *rs = NULL;
	struct preprocess *own = NULL;
	int ch, rc = EX_OK;

	mime_options_default(&c.mopt);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break; /* only matters with --job */
		case 'j': job = optarg; break;
		case 'r':
			if (nrules == PP_MAX_RULE_FILES) {
				fprintf(stderr, "mail2ticket: preprocess: at most %d rule files\n",
					PP_MAX_RULE_FILES);
				return EX_USAGE;
			}
			rules[nrules++] = optarg;
			break;
		case 'J': c.json = true; break;
		case 't': c.trace = true; break;
		case 'T': c.text = true; break;
		case 'h': pp_usage(stdout); return EX_OK;
		default: pp_usage(stderr); return EX_USAGE;
		}
	}
	if (optind >= argc || (job && nrules)) {
		pp_usage(stderr);
		return EX_USAGE;
	}
	rc = pipeline_load(&c, config_path, job, rules, nrules, &cfg, &rs, &own);
	if (rc != EX_OK)
		goto out;
	if (!c.text)
		mime_global_init();
	bool many = argc - optind > 1;
	for (int i = optind; i < argc; i++)
		if (preprocess_one(&c, argv[i], many) < 0)
			rc = EX_DATAERR;
	if (!c.text)
		mime_global_shutdown();
out:
	preprocess_free(&own);
	ruleset_free(&rs);
	config_free(&cfg);
	regex_thread_release();
	return rc;
}
