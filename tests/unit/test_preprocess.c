/*
 * rules/preprocess: every action, every condition, the limits (rule text
 * cap, match limit, time budget, removals), rule errors naming file:line:
 * column, bad regexes with their offset, the trace's positions in the
 * original, and the pipeline shared by threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/mime/mime_internal.h"
#include "engine/util/buf.h"
#include "rules/preprocess.h"
#include "rules/regex.h"
#include "rules/ruleset.h"
#include "tests/unit/test.h"

/* Compiles the `preprocess:` value of yaml; NULL (and err) on failure. */
static struct preprocess *compile(const char *yaml, struct err *err)
{
	struct yaml_tree *tree = NULL;
	struct preprocess *pp = NULL;
	if (yaml_tree_parse(yaml, strlen(yaml), "test.yaml", NULL, &tree, err) < 0)
		return NULL;
	if (preprocess_compile(yaml_tree_get(yaml_tree_root(tree), "preprocess"), &pp, err) < 0)
		pp = NULL;
	yaml_tree_free(&tree);
	if (pp) {
		/* no time budget unless a test sets one: results must not depend
		 * on the machine's speed (valgrind runs these too) */
		struct preprocess_limits lim;
		preprocess_limits_default(&lim);
		lim.budget_us = 0;
		preprocess_set_limits(pp, &lim);
	}
	return pp;
}

struct run {
	struct arena *a;
	struct message *m;
	struct preprocess_result res;
	struct err err;
	int rc;
};

static void run_on(struct run *r, struct preprocess *pp, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->a = arena_new();
	r->m = preprocess_text_message(r->a, text, strlen(text));
	r->rc = preprocess_run(pp, r->m, r->a, &r->res, &r->err);
}

/* Runs a one-stage pipeline with one rule on text; returns the cleaned text
 * (static copy) or "ERROR: msg". */
static const char *one_rule(const char *rule_yaml, const char *text)
{
	static char out[4096];
	char yaml[2048];
	struct err err = {0};
	snprintf(yaml, sizeof(yaml), "preprocess:\n  - stage: s\n    rules:\n      - %s\n", rule_yaml);
	struct preprocess *pp = compile(yaml, &err);
	if (!pp) {
		snprintf(out, sizeof(out), "COMPILE: %s", err.msg);
		return out;
	}
	struct run r;
	run_on(&r, pp, text);
	if (r.rc < 0)
		snprintf(out, sizeof(out), "ERROR: %s", r.err.msg);
	else
		snprintf(out, sizeof(out), "%.*s", (int)r.res.len, r.res.text);
	arena_free(&r.a);
	preprocess_free(&pp);
	return out;
}

TEST(action_remove_match)
{
	CHECK_STR(one_rule("{name: r, match: '\\[EXTERNAL\\] ', action: remove_match}",
			   "[EXTERNAL] Hello\n[EXTERNAL] again\n"),
		  "Hello\nagain\n");
}

TEST(action_remove_line)
{
	CHECK_STR(one_rule("{name: r, match: 'tracking', action: remove_line}",
			   "keep\nthe tracking pixel\nkeep too\nno tracking"),
		  "keep\nkeep too\n");
}

TEST(action_cut_after)
{
	CHECK_STR(one_rule("{name: r, match: '^--$', action: cut_after}", "text\n--\nsig\n"), "text\n");
}

TEST(action_cut_before)
{
	CHECK_STR(one_rule("{name: r, match: '^BODY:\\n', action: cut_before}",
			   "noise\nBODY:\nreal text\nBODY:\nmore\n"),
		  "real text\nBODY:\nmore\n");
}

TEST(action_keep_after_protects)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n"
					"  - stage: protect\n"
					"    rules:\n"
					"      - {name: fwd, match: '^== forwarded ==$', action: keep_after}\n"
					"  - stage: cut\n"
					"    rules:\n"
					"      - {name: sig, match: '^--$', action: cut_after}\n"
					"      - {name: x, match: 'x', action: remove_match}\n",
					&err);
	CHECK(pp != NULL);
	struct run r;
	run_on(&r, pp, "a x\n--\nsig x\n== forwarded ==\nb x\n--\nold sig\n");
	CHECK_INT(r.rc, 0);
	/* the cut stops at the forward; nothing after it is touched */
	CHECK_STR(r.res.text, "a \n== forwarded ==\nb x\n--\nold sig\n");
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(group_names_the_range)
{
	CHECK_STR(one_rule("{name: r, match: 'Ticket (?<num>#\\d+) ', action: remove_match, "
			   "group: num}", "Ticket #42 is done"),
		  "Ticket  is done");
	CHECK(strstr(one_rule("{name: r, match: '(?<a>x)', action: remove_match, group: b}", "x"),
		     "test.yaml:4:66: preprocess[0].rules[0].group: the pattern has no group named \"b\"") != NULL);
}

TEST(needs_text_before_and_at_end)
{
	const char *rule = "{name: r, match: '^> .*', action: cut_after, needs_text_before: true}";
	CHECK_STR(one_rule(rule, "> quote\nanswer\n"), "> quote\nanswer\n");
	CHECK_STR(one_rule(rule, "answer\n> quote\n"), "answer\n");
	rule = "{name: r, match: '^>[^\\n]*', action: remove_match, at_end: true}";
	CHECK_STR(one_rule(rule, "a\n> q\nb\n> last\n\n"), "a\n> q\nb\n\n\n");
}

TEST(only_replies)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: s\n    only_replies: true\n"
					"    rules:\n      - {name: r, match: 'x', action: remove_match}\n",
					&err);
	struct run r;
	run_on(&r, pp, "axb");
	CHECK_STR(r.res.text, "axb");
	arena_free(&r.a);
	/* a reply by subject prefix, then by In-Reply-To */
	const char *subjects[] = {"Re: hello", "AW: Hallo", "SV: hej", "回复：你好", "RE[2]: x"};
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		struct arena *a = arena_new();
		struct message *m = preprocess_text_message(a, "axb", 3);
		struct preprocess_result res;
		m->subject = subjects[i];
		CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
		if (strcmp(res.text, "ab") != 0)
			fprintf(stderr, "  subject %s not seen as a reply\n", subjects[i]);
		CHECK_STR(res.text, "ab");
		m->subject = "";
		m->in_reply_to = "abc@example.com";
		CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
		CHECK_STR(res.text, "ab");
		arena_free(&a);
	}
	preprocess_free(&pp);
}

TEST(forward_condition)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: s\n    rules:\n"
					"      - {name: a, match: '^--- orig ---', action: cut_after, "
					"forward: false}\n",
					&err);
	struct arena *a = arena_new();
	struct message *m = preprocess_text_message(a, "hi\n--- orig ---\nold\n", 20);
	struct preprocess_result res;
	m->subject = "Fwd: report";
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "hi\n--- orig ---\nold\n");
	m->subject = "RE: FW: report"; /* a reply to a forward */
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "hi\n");
	arena_free(&a);
	preprocess_free(&pp);
}

TEST(client_conditions)
{
	struct err err = {0};
	struct preprocess *pp = compile(
		"preprocess:\n"
		"  - stage: by-client\n"
		"    client: [acme-mail]\n"
		"    rules: [{name: a, match: 'A', action: remove_match}]\n"
		"  - stage: acme-mail\n"
		"    when: {headers: {X-Mailer: '^AcmeMail '}, html: ['class=\"acme_quote\"']}\n"
		"    rules: [{name: b, match: 'B', action: remove_match}]\n",
		&err);
	CHECK(pp != NULL);
	struct arena *a = arena_new();
	struct message *m = preprocess_text_message(a, "ABC", 3);
	struct preprocess_result res;
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "ABC");
	CHECK(res.client == NULL);
	/* the model's client */
	m->client = "acme-mail";
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "C");
	/* no client from the model: the pack's header marker names it */
	struct header h[] = {{"x-mailer", "AcmeMail 3.1"}};
	m->client = NULL;
	m->headers = h;
	m->nheaders = 1;
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "C");
	CHECK_STR(res.client, "acme-mail");
	/* or its HTML marker */
	m->nheaders = 0;
	m->html = "<div class=\"acme_quote\">";
	m->html_len = strlen(m->html);
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK_STR(res.text, "C");
	arena_free(&a);
	preprocess_free(&pp);
}

TEST(trace_points_into_the_original)
{
	struct err err = {0};
	struct preprocess *pp = compile(
		"preprocess:\n"
		"  - stage: one\n"
		"    rules:\n"
		"      - {name: banner, match: '^\\[ext\\] ', action: remove_match}\n"
		"  - stage: two\n"
		"    rules:\n"
		"      - name: sig\n"
		"        match: '^-- $'\n"
		"        action: cut_after\n",
		&err);
	CHECK(pp != NULL);
	const char *text = "[ext] hello\nworld\n-- \nMe\n";
	struct run r;
	run_on(&r, pp, text);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.res.text, "hello\nworld\n");
	CHECK_INT(r.res.nremoved, 2);
	if (r.res.nremoved == 2) {
		const struct preprocess_removal *x = &r.res.removed[1];
		CHECK_STR(x->stage, "two");
		CHECK_STR(x->rule, "sig");
		CHECK_STR(x->file, "test.yaml");
		CHECK_INT(x->line, 7);
		CHECK_INT(x->column, 9);
		CHECK_STR(x->text, "-- \nMe\n");
		/* offsets in the original, though stage one shortened the text */
		CHECK_INT(x->start, 18);
		CHECK_INT(x->end, strlen(text));
		CHECK(memcmp(text + x->start, x->text, x->len) == 0);
		CHECK_INT(r.res.removed[0].start, 0);
		CHECK_INT(r.res.removed[0].end, 6);
	}
	CHECK(r.res.base == r.m->text);
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(everything_removed_keeps_the_text)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: s\n    rules:\n"
					"      - {name: all, match: '(?s).+', action: remove_match}\n",
					&err);
	struct run r;
	run_on(&r, pp, "> only a quote\n");
	CHECK_INT(r.rc, 0);
	CHECK(r.res.kept_all);
	CHECK_STR(r.res.text, "> only a quote\n");
	CHECK_INT(r.res.nremoved, 0);
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(whitespace_stage)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - whitespace\n", &err);
	struct run r;
	run_on(&r, pp, "\n\n  first  \n\n\n\nsecond\t\n \n");
	CHECK_STR(r.res.text, "first\n\nsecond");
	CHECK_INT(r.res.nremoved, 0); /* white space is not traced */
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(rule_text_cap)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: s\n    rules:\n"
					"      - {name: r, match: 'Z', action: remove_match}\n",
					&err);
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.regex.max_subject = 10;
	preprocess_set_limits(pp, &lim);
	struct run r;
	run_on(&r, pp, "aaaaZaaaaaaaaaaZ");
	CHECK_STR(r.res.text, "aaaaaaaaaaaaaaZ"); /* the second Z is past the cap */
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(match_limit_is_a_rule_error)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: trap\n    rules:\n"
					"      - {name: nested, match: '(a+)+$', action: remove_match}\n",
					&err);
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.regex.match_limit = 1000;
	preprocess_set_limits(pp, &lim);
	struct run r;
	run_on(&r, pp, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
	CHECK_INT(r.rc, -1);
	CHECK_INT(r.err.cls, ERR_MESSAGE);
	CHECK(strstr(r.err.msg, "stage \"trap\" rule \"nested\" (test.yaml:4:9)") != NULL);
	CHECK(strstr(r.err.msg, "limit") != NULL);
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(time_budget)
{
	struct err err = {0};
	struct buf y;
	buf_init(&y, 1 << 20);
	buf_adds(&y, "preprocess:\n");
	for (int i = 0; i < 40; i++)
		buf_addf(&y, "  - stage: s%d\n    rules: [{name: r, match: '(?:a|b)*c', action: "
			 "remove_match}]\n", i);
	struct preprocess *pp = compile(y.data, &err);
	buf_release(&y);
	CHECK(pp != NULL);
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.budget_us = 1;
	preprocess_set_limits(pp, &lim);
	char *text = malloc(200001);
	memset(text, 'a', 200000);
	text[200000] = '\0';
	struct run r;
	run_on(&r, pp, text);
	/* not refused, not half cleaned: kept whole */
	CHECK_INT(r.rc, 0);
	CHECK(r.res.budget_spent);
	CHECK(r.res.text == r.res.base && r.res.len == 200000);
	CHECK_INT(r.res.nremoved, 0);
	arena_free(&r.a);
	free(text);
	preprocess_free(&pp);
}

TEST(removal_cap)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - stage: s\n    rules:\n"
					"      - {name: each, match: 'a', action: remove_match}\n",
					&err);
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.max_removals = 5;
	preprocess_set_limits(pp, &lim);
	struct run r;
	run_on(&r, pp, "a-a-a-a-a-a-a");
	CHECK_INT(r.rc, -1);
	CHECK(strstr(r.err.msg, "more than 5 removals") != NULL);
	arena_free(&r.a);
	preprocess_free(&pp);
}

TEST(bad_regex_names_position_and_offset)
{
	const char *got = one_rule("{name: r, match: 'ab(c', action: remove_match}", "x");
	CHECK(strstr(got, "test.yaml:4:26: preprocess[0].rules[0].match: bad regex at offset 4: "
			  "missing closing parenthesis") != NULL);
	if (!strstr(got, "offset 4"))
		fprintf(stderr, "  %s\n", got);
}

TEST(compile_errors)
{
	struct err err = {0};
	CHECK(compile("preprocess:\n  - stage: s\n    rules:\n      - {name: r, match: x, "
		      "action: cut}\n", &err) == NULL);
	CHECK(strstr(err.msg, "test.yaml:4:37: preprocess[0].rules[0].action: expected remove_match") != NULL);
	CHECK(compile("preprocess:\n  - gmial\n", &err) == NULL);
	CHECK_STR(err.msg, "test.yaml:2:5: preprocess[0]: no pack named \"gmial\" (did you mean "
			   "\"gmail\"?)");
	CHECK(compile("preprocess:\n  - stage: s\n    rulez: []\n", &err) == NULL);
	CHECK(strstr(err.msg, "test.yaml:3:5:") != NULL && strstr(err.msg, "rules") != NULL);
	CHECK(compile("preprocess:\n  - stage: s\n    rules:\n      - {name: r, match: x, action: "
		      "remove_match}\n      - {name: r, match: y, action: remove_match}\n", &err) == NULL);
	CHECK(strstr(err.msg, "test.yaml:5:16:") != NULL && strstr(err.msg, "already") != NULL);
	CHECK(compile("preprocess:\n  - stage: s\n    rules:\n      - {match: x, action: "
		      "remove_match}\n", &err) == NULL);
	CHECK(strstr(err.msg, "name") != NULL);
	CHECK(compile("preprocess:\n  - {pack: gmail, rules: []}\n", &err) == NULL);
	CHECK(compile("preprocess:\n  - stage: s\n    when: {}\n    rules: []\n", &err) == NULL);
	CHECK(compile("preprocess: yes\n", &err) == NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* A job's rule files: their `preprocess:` stages as one pipeline. */
TEST(rule_file_keys)
{
	const char *a = "build/test-preprocess-a.yaml", *b = "build/test-preprocess-b.yaml";
	struct ruleset *rs = NULL;
	struct err err = {0};
	write_file(a, "fields: {}\nstatements: []\npreprocess:\n  - gmail\n  - whitespace\n");
	CHECK_INT(ruleset_load(&a, 1, &rs, &err), 0);
	CHECK(ruleset_preprocess(rs) != NULL);
	if (ruleset_preprocess(rs))
		CHECK_INT(preprocess_stage_count(ruleset_preprocess(rs)), 2);
	ruleset_free(&rs);

	write_file(b, "preprocess: []\nstatments: []\n");
	CHECK_INT(ruleset_load(&b, 1, &rs, &err), -1);
	CHECK(strstr(err.msg, "did you mean \"statements\"") != NULL);
	remove(a);
	remove(b);
}

/* Several files: stages in file order; no key anywhere: the default;
 * an explicit empty list: nothing runs. */
TEST(job_pipeline_from_rule_files)
{
	const char *paths[3] = {
		"build/test-pipeline-1.yaml", "build/test-pipeline-2.yaml",
		"build/test-pipeline-3.yaml",
	};
	struct ruleset *rs = NULL;
	const struct preprocess *pp = NULL;
	struct preprocess *own = NULL;
	struct err err = {0};
	struct arena *ar = arena_new();
	struct preprocess_result res;

	write_file(paths[0], "preprocess:\n  - stage: first\n    rules:\n      - { name: a, "
		   "match: 'AAA', action: remove_match }\n");
	write_file(paths[1], "statements: []\n");
	write_file(paths[2], "preprocess:\n  - stage: second\n    rules:\n      - { name: b, "
		   "match: 'BBB', action: remove_match }\n");
	CHECK_INT(ruleset_load(paths, 3, &rs, &err), 0);
	CHECK_INT(ruleset_pipeline(rs, &pp, &own, &err), 0);
	CHECK(own == NULL && pp == ruleset_preprocess(rs));
	CHECK_INT(preprocess_stage_count(pp), 2);
	const char *text = "x AAA y BBB z";
	struct message *msg = preprocess_text_message(ar, text, strlen(text));
	CHECK_INT(preprocess_run(pp, msg, ar, &res, &err), 0);
	CHECK_INT(res.nremoved, 2);
	if (res.nremoved == 2) {
		CHECK_STR(res.removed[0].stage, "first");
		CHECK_STR(res.removed[1].stage, "second");
		CHECK(strstr(res.removed[1].file, "test-pipeline-3.yaml") != NULL);
	}
	ruleset_free(&rs);

	/* no file has the key: the shipped default, compiled for the caller */
	CHECK_INT(ruleset_load(&paths[1], 1, &rs, &err), 0);
	CHECK(ruleset_preprocess(rs) == NULL);
	CHECK_INT(ruleset_pipeline(rs, &pp, &own, &err), 0);
	CHECK(own != NULL && pp == own && preprocess_stage_count(pp) > 10);
	preprocess_free(&own);
	ruleset_free(&rs);
	/* no rules at all: the same */
	CHECK_INT(ruleset_pipeline(NULL, &pp, &own, &err), 0);
	CHECK(own != NULL && preprocess_stage_count(pp) > 10);
	preprocess_free(&own);

	/* preprocess: [] switches it off */
	write_file(paths[1], "preprocess: []\n");
	CHECK_INT(ruleset_load(&paths[1], 1, &rs, &err), 0);
	CHECK_INT(ruleset_pipeline(rs, &pp, &own, &err), 0);
	CHECK(own == NULL && pp != NULL);
	CHECK_INT(preprocess_stage_count(pp), 0);
	ruleset_free(&rs);

	/* a bad stage in the second file names that file */
	write_file(paths[1], "preprocess:\n  - no-such-pack\n");
	CHECK_INT(ruleset_load(paths, 2, &rs, &err), -1);
	CHECK(strstr(err.msg, "test-pipeline-2.yaml:2:5") != NULL);
	for (size_t i = 0; i < 3; i++)
		remove(paths[i]);
	arena_free(&ar);
}

/* The stage cap holds for the pipeline, not each file. */
TEST(stage_cap_across_files)
{
	struct yaml_tree *t1 = NULL, *t2 = NULL;
	struct preprocess *pp = NULL;
	struct err err = {0};
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_adds(&b, "preprocess:\n");
	for (int i = 0; i < 150; i++)
		buf_adds(&b, "  - whitespace\n");
	CHECK_INT(yaml_tree_parse(b.data, b.len, "one.yaml", NULL, &t1, &err), 0);
	CHECK_INT(yaml_tree_parse(b.data, b.len, "two.yaml", NULL, &t2, &err), 0);
	const struct yaml_tree_node *lists[2] = {
		yaml_tree_get(yaml_tree_root(t1), "preprocess"),
		yaml_tree_get(yaml_tree_root(t2), "preprocess"),
	};
	CHECK_INT(preprocess_compile_list(lists, 1, &pp, &err), 0);
	preprocess_free(&pp);
	CHECK_INT(preprocess_compile_list(lists, 2, &pp, &err), -1);
	CHECK(strstr(err.msg, "two.yaml:") != NULL && strstr(err.msg, "more than") != NULL);
	buf_release(&b);
	yaml_tree_free(&t1);
	yaml_tree_free(&t2);
}

TEST(default_pipeline_compiles)
{
	struct preprocess *pp = NULL;
	struct err err = {0};
	CHECK_INT(preprocess_default(&pp, &err), 0);
	CHECK(pp && preprocess_stage_count(pp) > 10);
	for (size_t i = 0; i < preprocess_pack_count(); i++)
		CHECK(preprocess_pack_source(preprocess_pack_name(i), NULL) != NULL);
	CHECK(preprocess_pack_source("no-such-pack", NULL) == NULL);
	preprocess_free(&pp);
}

TEST(regex_wrapper)
{
	struct regex *re = NULL;
	struct regex_limits lim;
	struct regex_match m;
	struct err err = {0};
	regex_limits_default(&lim);
	const char *pat = "(?<word>\\w+)@(?<host>[a-z.]+)";
	CHECK_INT(regex_compile(pat, strlen(pat), 0, &re, NULL, &err), 0);
	if (!re)
		return;
	CHECK_INT(regex_group_index(re, "host"), 2);
	CHECK_INT(regex_group_index(re, "nope"), -1);
	/* invalid UTF-8 in the subject: searched, never an error */
	const char subj[] = "\xff\xfe mail jo@example.org \xc3";
	CHECK_INT(regex_match(re, subj, sizeof(subj) - 1, 0, &lim, &m, &err), 1);
	CHECK_INT(m.gstart[1], 8);
	CHECK_INT(m.gend[2], 22);
	CHECK_INT(regex_match(re, subj, sizeof(subj) - 1, 23, &lim, &m, &err), 0);
	regex_free(&re);
	CHECK(re == NULL);
	size_t off = 0;
	CHECK_INT(regex_compile("a{2,1}", 6, 0, &re, &off, &err), -1);
	CHECK(strstr(err.msg, "bad regex at offset") != NULL);
	CHECK_INT(off, 5);
}

/* The default pipeline without a time budget: results must not depend on
 * the machine's speed (valgrind runs these too). */
static struct preprocess *default_unbudgeted(void)
{
	struct preprocess *pp = NULL;
	struct err err = {0};
	if (preprocess_default(&pp, &err) < 0)
		return NULL;
	struct preprocess_limits lim;
	preprocess_limits_default(&lim);
	lim.budget_us = 0;
	preprocess_set_limits(pp, &lim);
	return pp;
}

/* Every prefix of a reply through the default pipeline: no failure, valid
 * UTF-8 out, and every removal's text is where the trace says. */
TEST(every_prefix)
{
	static const char text[] =
		"Grüße aus Köln — danke!\n\nAm 03.11.2026 um 10:12 schrieb Service <s@example.de>:\n"
		"> Hallo,\n> 你好\n\n-- \nSig\n";
	struct preprocess *pp = default_unbudgeted();
	CHECK(pp != NULL);
	for (size_t n = 0; n <= sizeof(text) - 1; n++) {
		struct run r;
		run_on(&r, pp, "");
		arena_free(&r.a);
		r.a = arena_new();
		r.m = preprocess_text_message(r.a, text, n);
		r.rc = preprocess_run(pp, r.m, r.a, &r.res, &r.err);
		CHECK_INT(r.rc, 0);
		CHECK(mime_utf8_valid(r.res.text, r.res.len) || !mime_utf8_valid(text, n));
		for (size_t i = 0; i < r.res.nremoved; i++) {
			const struct preprocess_removal *x = &r.res.removed[i];
			CHECK(x->end <= r.res.base_len && x->start < x->end);
			CHECK(x->len <= x->end - x->start);
		}
		arena_free(&r.a);
	}
	preprocess_free(&pp);
}

TEST(html_to_text_when_only_html_marks_the_quote)
{
	struct err err = {0};
	struct preprocess *pp = compile("preprocess:\n  - html_to_text\n  - quote-markers\n", &err);
	CHECK(pp != NULL);
	struct arena *a = arena_new();
	const char *plain = "Thanks!\n\nold text\n";
	struct message *m = preprocess_text_message(a, plain, strlen(plain));
	struct preprocess_result res;
	m->html = "<p>Thanks!</p><blockquote type=\"cite\"><p>old text</p></blockquote>";
	m->html_len = strlen(m->html);
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK(res.base_from_html);
	CHECK_STR(res.text, "Thanks!\n\n");
	CHECK_INT(res.nremoved, 1);
	/* the plain part shows the quote itself: it stays the base */
	plain = "Thanks!\n\n> old text\n";
	m->text = plain;
	m->text_len = strlen(plain);
	CHECK_INT(preprocess_run(pp, m, a, &res, &err), 0);
	CHECK(!res.base_from_html);
	CHECK(res.base == plain);
	arena_free(&a);
	preprocess_free(&pp);
}

static void *thread_main(void *arg)
{
	struct preprocess *pp = arg;
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		struct run r;
		run_on(&r, pp, "Thanks!\n\nOn Tue, 3 Nov 2026 at 10:12, A <a@example.com> wrote:\n> q\n");
		if (r.rc < 0 || strcmp(r.res.text, "Thanks!") != 0)
			bad++;
		arena_free(&r.a);
	}
	regex_thread_release();
	return (void *)(intptr_t)bad;
}

TEST(shared_between_threads)
{
	struct preprocess *pp = default_unbudgeted();
	CHECK(pp != NULL);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, pp);
	for (int i = 0; i < 4; i++) {
		void *bad;
		pthread_join(t[i], &bad);
		CHECK_INT((intptr_t)bad, 0);
	}
	preprocess_free(&pp);
}

int main(void)
{
	mime_global_init();
	RUN(action_remove_match);
	RUN(action_remove_line);
	RUN(action_cut_after);
	RUN(action_cut_before);
	RUN(action_keep_after_protects);
	RUN(group_names_the_range);
	RUN(needs_text_before_and_at_end);
	RUN(only_replies);
	RUN(forward_condition);
	RUN(client_conditions);
	RUN(trace_points_into_the_original);
	RUN(everything_removed_keeps_the_text);
	RUN(whitespace_stage);
	RUN(rule_text_cap);
	RUN(match_limit_is_a_rule_error);
	RUN(time_budget);
	RUN(removal_cap);
	RUN(bad_regex_names_position_and_offset);
	RUN(compile_errors);
	RUN(rule_file_keys);
	RUN(job_pipeline_from_rule_files);
	RUN(stage_cap_across_files);
	RUN(default_pipeline_compiles);
	RUN(regex_wrapper);
	RUN(every_prefix);
	RUN(html_to_text_when_only_html_marks_the_quote);
	RUN(shared_between_threads);
	regex_thread_release();
	mime_global_shutdown();
	return test_summary();
}
