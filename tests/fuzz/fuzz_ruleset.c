/*
 * libFuzzer target: the rule loader from memory (YAML tree, preprocess
 * stages, fields, conditions, actions, templates, statements), then, when
 * the rules compiled, their preprocessing stages and a decision on a fixed
 * message, so stages, evaluation and templates see whatever the fuzzer
 * makes up. List files are refused (no file access).
 *   make build/fuzz/fuzz_ruleset && build/fuzz/fuzz_ruleset -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/util/arena.h"
#include "rules/decide.h"
#include "rules/policy.h"
#include "rules/preprocess.h"
#include "rules/ruleset.h"
#include "rules/yaml_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct header headers[] = {
	{"Subject", "Re: [Ticket#2026112100001] Order 4711"},
	{"X-Priority", "1"},
	{"Auto-Submitted", "no"},
	{"X-Spam-Score", "3.5"},
};
static struct address to[] = {{"Support", "support@example.com"}};
static struct attachment att[] = {{.filename = "a.pdf", .content_type = "application/pdf",
				   .data = (const unsigned char *)"x", .size = 1}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy pol;
	static struct arena *arena;
	if (!arena) {
		policy_init(&pol);
		arena = arena_new();
	}
	struct yaml_tree *tree = NULL;
	struct err err;
	if (yaml_tree_parse((const char *)data, size, "fuzz.yaml", NULL, &tree, &err) < 0)
		return 0;
	const struct yaml_tree_node *root = yaml_tree_root(tree);
	struct ruleset *rs = NULL;
	if (root && ruleset_compile(&root, 1, false, &rs, &err) == 0) {
		struct message msg = {0};
		msg.message_id = "m@x";
		msg.in_reply_to = "prev@x";
		msg.references = "<a@x> <prev@x>";
		msg.subject = headers[0].value;
		msg.from = (struct address){"Anna", "anna@example.org"};
		msg.reply_to = (struct address){"", ""};
		msg.to.v = to;
		msg.to.n = 1;
		msg.text = "Order 4711, amount 19.90 EUR, due 2026-12-31\n[m2t:2026112100001]\n";
		msg.text_len = strlen(msg.text);
		msg.headers = headers;
		msg.nheaders = sizeof(headers) / sizeof(headers[0]);
		msg.attachments = att;
		msg.nattachments = 1;
		msg.raw_size = 100;
		struct rules_env env = {.rules = rs, .policy = &pol, .account = "a", .job = "j",
					.budget_ms = 1000};
		struct plan plan;
		struct trace *tr;
		struct preprocess_result pre;
		const struct preprocess *pp = ruleset_preprocess(rs);
		arena_reset(arena);
		/* as a job does it: the stages first, their result is `body` */
		if (!pp || preprocess_run(pp, &msg, arena, &pre, &err) == 0)
			(void)rules_decide(&env, &msg, pp ? &pre : NULL, arena, &plan, &tr, &err);
		ruleset_free(&rs);
	}
	yaml_tree_free(&tree);
	return 0;
}
