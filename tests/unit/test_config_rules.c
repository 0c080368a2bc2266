/*
 * A job's `rules:`, `own_addresses:`, `followup:` and `loops:` keys: rule
 * files resolved against the config file's directory and compiled at load,
 * a broken rule file failing the load with its own position, the defaults
 * of the follow-up and loop settings, bad values with positions, and the
 * rules' move_to folders checked against the job's account.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/config/config.h"
#include "engine/util/log.h"
#include "rules/ruleset.h"
#include "tests/unit/test.h"

static char g_dir[256];
static char g_cfg[300];

static void put(const char *name, const char *text)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

#define BASE                                                                   \
	"database:\n  url: postgresql://localhost/x\n"                         \
	"accounts:\n"                                                          \
	"  support:\n"                                                         \
	"    protocol: imap\n"                                                 \
	"    host: imap.example.com\n"                                         \
	"    username: Support@Example.com\n"                                  \
	"    password_env: M2T_TEST_PW\n"                                       \
	"jobs:\n"                                                              \
	"  inbox:\n"                                                           \
	"    account: support\n"                                               \
	"    schedule: \"*/5 * * * *\"\n"

/* Loads the config text; the error with the directory shown as DIR, "OK"
 * when it loaded. */
static const char *load_text(const char *text, struct config **cfg_r)
{
	static char out[700];
	struct err err = {0};
	put("config.yaml", text);
	*cfg_r = NULL;
	if (config_load(g_cfg, cfg_r, &err) == 0)
		return "OK";
	size_t o = 0;
	for (const char *m = err.msg; *m && o + 4 < sizeof(out);) {
		if (strncmp(m, g_dir, strlen(g_dir)) == 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "DIR");
			m += strlen(g_dir);
		} else {
			out[o++] = *m++;
		}
	}
	out[o] = '\0';
	return out;
}

/* Loads BASE + extra. */
static const char *load(const char *extra, struct config **cfg_r)
{
	char text[4096];
	snprintf(text, sizeof(text), "%s%s", BASE, extra);
	return load_text(text, cfg_r);
}

TEST(defaults_without_rules)
{
	struct config *cfg;
	CHECK_STR(load("", &cfg), "OK");
	if (!cfg)
		return;
	const struct config_job *j = &cfg->jobs[0];
	CHECK(j->rules == NULL);
	CHECK_INT(j->nrule_files, 0);
	CHECK_STR(j->policy.subject_tag, "[Ticket#{number}]");
	CHECK_STR(j->policy.body_marker, "[m2t:{number}]");
	CHECK(j->policy.references);
	CHECK_INT(j->policy.subject_days, 14);
	CHECK_INT(j->policy.stranger, PLAN_STRANGER_NOTE);
	CHECK_INT(j->policy.closed, PLAN_CLOSED_REOPEN);
	CHECK_STR(j->policy.closed_statuses, "closed,resolved");
	CHECK_STR(j->policy.reopen_status, "open");
	CHECK_INT(j->policy.auto_replies, LOOP_NOTE);
	CHECK_INT(j->policy.bulk, LOOP_NOTE);
	CHECK_INT(j->policy.bounces, BOUNCE_ATTACH);
	CHECK_INT(j->policy.sender_cap, 40);
	/* the account's address is ours unless own_addresses says otherwise */
	CHECK_INT(j->policy.nown, 1);
	CHECK_STR(j->policy.nown ? j->policy.own_addresses[0] : "", "support@example.com");
	CHECK_INT(j->rules_budget_ms, 2000);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print_summary(cfg, f);
	fclose(f);
	CHECK(strstr(text, "preprocess: the shipped default pipeline\n") != NULL);
	CHECK(strstr(text, "move_to:") == NULL);
	free(text);
	config_free(&cfg);
}

TEST(every_key_read)
{
	struct config *cfg;
	mkdir("rules", 0755); /* relative to the working directory: must NOT be used */
	char sub[400];
	snprintf(sub, sizeof(sub), "%s/rules", g_dir);
	mkdir(sub, 0755);
	put("rules/a.yaml", "preprocess: [ signatures ]\nstatements:\n  - name: a\n"
			    "    then: [ { set: { priority: high } } ]\n");
	put("rules/b.yaml", "preprocess: [ whitespace ]\nfields:\n  x: { from: subject, pattern: x }\n"
			    "statements:\n  - name: b\n    then: [ { move_to: Sorted } ]\n");
	const char *extra =
		"    rules: [ rules/a.yaml, rules/b.yaml ]\n"
		"    own_addresses: [ help@example.com, Desk@Example.com ]\n"
		"    limits: { rules_time: 500ms }\n"
		"    followup:\n"
		"      subject_tag: \"[Case {number}]\"\n"
		"      body_marker: false\n"
		"      references: no\n"
		"      subject_match_days: 0\n"
		"      reply_prefixes: [Re, Odp]\n"
		"      foreign_tags:\n"
		"        - { name: jira, pattern: '\\b(?<ref>SUP-\\d+)\\b', in_body: true }\n"
		"      non_participant: reject\n"
		"      trusted_domains: [ '@example.com' ]\n"
		"      closed: new_ticket\n"
		"      closed_statuses: [ done ]\n"
		"      reopen_status: reopened\n"
		"    loops:\n"
		"      auto_replies: ignore\n"
		"      bulk: ticket\n"
		"      bounces: ignore\n"
		"      max_tickets_per_sender: 0\n";
	CHECK_STR(load(extra, &cfg), "OK");
	if (!cfg)
		return;
	const struct config_job *j = &cfg->jobs[0];
	CHECK_INT(j->nrule_files, 2);
	char want[400];
	snprintf(want, sizeof(want), "%s/rules/a.yaml", g_dir);
	CHECK_STR(j->rule_files[0], want);
	CHECK(j->rules != NULL);
	CHECK_INT(ruleset_statement_count(j->rules), 2);
	CHECK_INT(ruleset_field_count(j->rules), 1);
	CHECK_INT(ruleset_folder_count(j->rules), 1);
	CHECK_INT(j->rules_budget_ms, 500);
	const struct policy *p = &j->policy;
	CHECK_INT(p->nown, 2);
	CHECK_STR(p->own_addresses[1], "desk@example.com");
	CHECK_STR(p->subject_tag, "[Case {number}]");
	CHECK(p->body_marker == NULL && p->body_marker_rx == NULL);
	CHECK(!p->references);
	CHECK_INT(p->subject_days, 0);
	CHECK_INT(p->nreply_prefixes, 2);
	CHECK_INT(p->nforeign, 1);
	CHECK(p->nforeign && p->foreign[0].in_body && p->foreign[0].group == 1);
	CHECK_INT(p->stranger, PLAN_STRANGER_REJECT);
	CHECK_STR(p->ntrusted ? p->trusted_domains[0] : "", "example.com");
	CHECK_INT(p->closed, PLAN_CLOSED_NEW_TICKET);
	CHECK_STR(p->closed_statuses, "done");
	CHECK_STR(p->reopen_status, "reopened");
	CHECK_INT(p->auto_replies, LOOP_IGNORE);
	CHECK_INT(p->bulk, LOOP_TICKET);
	CHECK_INT(p->bounces, BOUNCE_IGNORE);
	CHECK_INT(p->sender_cap, 0);
	/* the summary names the files and the settings */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print_summary(cfg, f);
	fclose(f);
	CHECK(strstr(text, "rules:    2 file(s), 1 fields, 2 statements") != NULL);
	CHECK(strstr(text, "preprocess: 2 stages from the rule files: signatures, whitespace\n")
	      != NULL);
	CHECK(strstr(text, "move_to:  Sorted\n") != NULL);
	CHECK(strstr(text, "followup: tag [Case {number}], marker off, references off") != NULL);
	CHECK(strstr(text, "0 new tickets per sender and hour (no cap)") != NULL);
	free(text);
	config_free(&cfg);
	rmdir("rules");
}

TEST(broken_rules_fail_the_load_with_their_position)
{
	struct config *cfg;
	put("bad.yaml", "statements:\n  - name: vip\n    if: { subject: { matches: '(' } }\n"
			"    then: [ stop ]\n");
	CHECK_STR(load("    rules: bad.yaml\n", &cfg),
		  "DIR/bad.yaml:3:31: statement \"vip\": statements[0].if.subject.matches: bad "
		  "regex at offset 1: missing closing parenthesis");
	CHECK(cfg == NULL);
	CHECK_STR(load("    rules: [ missing.yaml ]\n", &cfg),
		  "DIR/config.yaml:13:14: jobs.inbox.rules[0]: cannot read rule file "
		  "\"DIR/missing.yaml\"");
}

TEST(bad_settings_name_position)
{
	struct config *cfg;
	CHECK_STR(load("    followup: { subject_tag: '[Ticket#]' }\n", &cfg),
		  "DIR/config.yaml:13:30: jobs.inbox.followup.subject_tag: the format needs "
		  "\"{number}\" in it");
	CHECK_STR(load("    followup: { non_participant: trust }\n", &cfg),
		  "DIR/config.yaml:13:34: jobs.inbox.followup.non_participant: expected note, "
		  "new_ticket, reject or append, got \"trust\"");
	CHECK_STR(load("    followup: { foreign_tags: [ { name: x, pattern: '(' } ] }\n", &cfg),
		  "DIR/config.yaml:13:53: jobs.inbox.followup.foreign_tags[0].pattern: bad regex at "
		  "offset 1: missing closing parenthesis");
	CHECK_STR(load("    followup: { reply_prefixes: [ 'Re:' ] }\n", &cfg),
		  "DIR/config.yaml:13:33: jobs.inbox.followup.reply_prefixes: write the prefix "
		  "without its colon (\"Re:\")");
	CHECK_STR(load("    loops: { max_tickets_per_sender: lots }\n", &cfg),
		  "DIR/config.yaml:13:38: jobs.inbox.loops.max_tickets_per_sender: expected an "
		  "integer 0-1000000, got \"lots\"");
	CHECK_STR(load("    loops: { bounce: attach }\n", &cfg),
		  "DIR/config.yaml:13:14: jobs.inbox.loops: unknown key \"bounce\" (did you "
		  "mean \"bounces\"?)");
	CHECK_STR(load("    own_addresses: nobody\n", &cfg),
		  "DIR/config.yaml:13:20: jobs.inbox.own_addresses: expected an email address");
}

/*
 * move_to on an account that cannot move mail (POP3), in a job that moves
 * nothing (keep_on_server), or to a Maildir folder outside the Maildir:
 * errors at the move_to's position in the rule file.
 */
TEST(move_to_needs_a_source_with_folders)
{
	struct config *cfg;
	static const char RULES[] =
		"statements:\n"
		"  - name: news\n"
		"    if: { bulk: true }\n"
		"    then: [ { move_to: Newsletters }, stop ]\n";
	put("move.yaml", RULES);
	/* IMAP: fine, and the folder is listed for the run */
	CHECK_STR(load("    rules: move.yaml\n", &cfg), "OK");
	if (cfg) {
		CHECK_INT(ruleset_folder_count(cfg->jobs[0].rules), 1);
		CHECK_STR(ruleset_folder(cfg->jobs[0].rules, 0), "Newsletters");
		config_free(&cfg);
	}
	CHECK_STR(load("    keep_on_server: true\n    rules: move.yaml\n", &cfg),
		  "DIR/move.yaml:4:24: statement \"news\": statements[0].then[0].move_to: job "
		  "\"inbox\" keeps its mail on the server (keep_on_server: true): nothing is moved");
	CHECK(cfg == NULL);
	CHECK_STR(load_text("database:\n  url: postgresql://localhost/x\n"
			    "accounts:\n  pop:\n    protocol: pop3\n    host: pop.example.com\n"
			    "    username: a@example.com\n    password_env: M2T_TEST_PW\n"
			    "jobs:\n  inbox:\n    account: pop\n    schedule: \"@hourly\"\n"
			    "    rules: move.yaml\n", &cfg),
		  "DIR/move.yaml:4:24: statement \"news\": statements[0].then[0].move_to: job "
		  "\"inbox\" reads account \"pop\", which is pop3: it has no folders to move mail to");
	CHECK(cfg == NULL);
	/* the same rules without move_to load on POP3 */
	put("nomove.yaml", "statements:\n  - name: news\n    if: { bulk: true }\n"
			   "    then: [ ignore, stop ]\n");
	CHECK_STR(load_text("database:\n  url: postgresql://localhost/x\n"
			    "accounts:\n  pop:\n    protocol: pop3\n    host: pop.example.com\n"
			    "    username: a@example.com\n    password_env: M2T_TEST_PW\n"
			    "jobs:\n  inbox:\n    account: pop\n    schedule: \"@hourly\"\n"
			    "    rules: nomove.yaml\n", &cfg), "OK");
	config_free(&cfg);
	/* Maildir: a name that would leave the Maildir */
	put("dots.yaml", "statements:\n  - name: out\n    then: [ { move_to: 'a..b' } ]\n");
	CHECK_STR(load_text("database:\n  url: postgresql://localhost/x\n"
			    "accounts:\n  md:\n    protocol: maildir\n    path: /tmp/no-such-maildir\n"
			    "jobs:\n  inbox:\n    account: md\n    schedule: \"@hourly\"\n"
			    "    rules: dots.yaml\n", &cfg),
		  "DIR/dots.yaml:3:24: statement \"out\": statements[0].then[0].move_to: a Maildir "
		  "folder is INBOX or names separated by '/' or '.', none empty");
	CHECK(cfg == NULL);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/m2t-config-rules-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(g_cfg, sizeof(g_cfg), "%s/config.yaml", g_dir);
	setenv("M2T_TEST_PW", "pw-Secret-1", 1);
	log_set_level(LOG_ERROR);
	RUN(defaults_without_rules);
	RUN(every_key_read);
	RUN(broken_rules_fail_the_load_with_their_position);
	RUN(bad_settings_name_position);
	RUN(move_to_needs_a_source_with_folders);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	log_clear_secrets();
	return test_summary();
}
