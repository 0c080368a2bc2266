/*
 * Rule files that must not load, with the exact message an admin sees:
 * file:line:column, the statement's name, the path, and what is wrong.
 * And every prefix of a valid rule file loads or fails cleanly (never a
 * crash), as the byte-at-a-time habit asks.
 */
#include <stdio.h>
#include <string.h>

#include "tests/unit/rules_fixture.h"
#include "tests/unit/test.h"

static struct err E;

#define ERR_IS(yaml, want) CHECK_STR(rules_error(yaml, &E), want)

TEST(bad_regex_names_offset)
{
	ERR_IS("statements:\n"
	       "  - name: vip\n"
	       "    if: { subject: { matches: 'Order (\\d+' } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:31: statement \"vip\": statements[0].if.subject.matches: bad regex at "
	       "offset 10: missing closing parenthesis");
	ERR_IS("fields:\n"
	       "  order: { from: subject, pattern: '[0-9' }\n",
	       "r.yaml:2:36: fields.order.pattern: bad regex at offset 4: missing terminating ] "
	       "for character class");
}

TEST(unknown_names_suggest)
{
	ERR_IS("fields:\n"
	       "  order_no: { type: integer, from: subject, pattern: '\\d+' }\n"
	       "statements:\n"
	       "  - name: big\n"
	       "    if: { field order_nr: { greater: 5 } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:5:11: statement \"big\": statements[0].if.field order_nr: unknown field "
	       "\"order_nr\" (did you mean \"order_no\"?)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { subject: { containz: x } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:22: statement \"s\": statements[0].if.subject.containz: unknown operator "
	       "\"containz\" (did you mean \"contains\"?)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { subjet: { contains: x } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:11: statement \"s\": statements[0].if.subjet: unknown condition "
	       "\"subjet\" (did you mean \"subject\"?)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    then: [ { create_tiket: {} } ]\n",
	       "r.yaml:3:15: statement \"s\": statements[0].then[0].create_tiket: unknown action "
	       "\"create_tiket\" (did you mean \"create_ticket\"?)");
	ERR_IS("statement:\n  - name: s\n",
	       "r.yaml:1:1: unknown key \"statement\" (did you mean \"statements\"?)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    then: [ { create_ticket: { subject: 'Order ${ordr}' } } ]\n"
	       "  - name: t\n"
	       "    if: { subject: { matches: '(?<order>\\d+)' } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:41: statement \"s\": statements[0].then[0].create_ticket.subject: unknown "
	       "variable ${ordr} in the template (did you mean ${order}?) (captures of matches:, "
	       "fields and built-ins are known)");
}

TEST(type_mismatches)
{
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { attachment_count: { contains: pdf } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:31: statement \"s\": statements[0].if.attachment_count.contains: type "
	       "mismatch: contains cannot be used on attachment_count (an integer)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { attachment_count: { greater: lots } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:40: statement \"s\": statements[0].if.attachment_count.greater: type "
	       "mismatch: \"lots\" is not an integer (attachment_count is an integer)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { subject: { greater: 5 } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:22: statement \"s\": statements[0].if.subject.greater: type mismatch: "
	       "greater cannot be used on subject (text)");
	ERR_IS("fields:\n"
	       "  due: { type: date, from: body, pattern: 'due (\\S+)', default: tomorrow }\n",
	       "r.yaml:2:65: fields.due.default: default \"tomorrow\" does not fit type date: not "
	       "a date (YYYY-MM-DD or DD.MM.YYYY)");
	ERR_IS("fields:\n"
	       "  due: { type: date, from: body, pattern: 'x' }\n"
	       "statements:\n"
	       "  - name: s\n"
	       "    if: { field due: { less: 2026-13-01 } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:5:30: statement \"s\": statements[0].if.field due.less: type mismatch: "
	       "\"2026-13-01\" is not a date (YYYY-MM-DD or DD.MM.YYYY) (field due is a date)");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { auto_reply: maybe }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:23: statement \"s\": statements[0].if.auto_reply: expected true or "
	       "false, got \"maybe\"");
	ERR_IS("statements:\n"
	       "  - name: s\n"
	       "    if: { size: { greater: 5, case: sensitive } }\n"
	       "    then: [ stop ]\n",
	       "r.yaml:3:17: statement \"s\": statements[0].if.size: case: applies only to text "
	       "operators");
}

TEST(unreachable_branches_and_statements)
{
	ERR_IS("statements:\n"
	       "  - name: route\n"
	       "    then: [ { create_ticket: { queue: A } } ]\n"
	       "    else:\n"
	       "      - create_ticket: { queue: B }\n",
	       "r.yaml:4:5: statement \"route\": statements[0].else: unreachable else: the "
	       "statement has no if:, so its then: always runs");
	ERR_IS("statements:\n"
	       "  - name: route\n"
	       "    if: { all: [] }\n"
	       "    then: [ { create_ticket: { queue: A } } ]\n"
	       "    else if:\n"
	       "      - if: { subject: { contains: x } }\n"
	       "        then: [ stop ]\n",
	       "r.yaml:6:9: statement \"route\": statements[0].else if[0]: unreachable else if: "
	       "the condition before it always matches");
	ERR_IS("statements:\n"
	       "  - name: route\n"
	       "    if: { subject: { contains: a } }\n"
	       "    then: [ stop ]\n"
	       "    else if:\n"
	       "      - if: true\n"
	       "        then: [ stop ]\n"
	       "    else: [ stop ]\n",
	       "r.yaml:8:5: statement \"route\": statements[0].else: unreachable else: the "
	       "condition before it always matches");
	ERR_IS("statements:\n"
	       "  - name: first\n"
	       "    then: [ ignore, stop ]\n"
	       "  - name: second\n"
	       "    then: [ stop ]\n",
	       "r.yaml:4:5: statement \"second\": statements[1]: unreachable statement: \"first\" "
	       "at r.yaml:2:5 always stops");
	/* an if/else where every branch stops also always stops */
	ERR_IS("statements:\n"
	       "  - name: first\n"
	       "    if: { subject: { contains: a } }\n"
	       "    then: [ stop ]\n"
	       "    else: [ stop ]\n"
	       "  - name: second\n"
	       "    then: [ stop ]\n",
	       "r.yaml:6:5: statement \"second\": statements[1]: unreachable statement: \"first\" "
	       "at r.yaml:2:5 always stops");
}

TEST(structure_errors)
{
	ERR_IS("statements:\n  - name: s\n    if: { subject: { contains: x } }\n",
	       "r.yaml:2:5: statement \"s\": statements[0]: missing then: (the actions to run)");
	ERR_IS("statements:\n  - if: { subject: { contains: x } }\n    then: [stop]\n",
	       "r.yaml:2:5: statements[0]: missing required key \"name\"");
	ERR_IS("statements:\n  - name: s\n    then: [ignore]\n  - name: s\n    then: [stop]\n",
	       "r.yaml:4:11: statement \"s\": statements[1].name: the name is used twice (first "
	       "at r.yaml:2:5)");
	ERR_IS("statements:\n  - name: s\n    if: { any: [] }\n    then: [stop]\n",
	       "r.yaml:3:16: statement \"s\": statements[0].if.any: any: needs at least one "
	       "condition (an empty any: never matches)");
	ERR_IS("statements:\n  - name: s\n    if: { from: { in: [] } }\n    then: [stop]\n",
	       "r.yaml:3:23: statement \"s\": statements[0].if.from.in: in: the list is empty (it "
	       "would never match)");
	ERR_IS("statements:\n  - name: s\n    if: { subject: { contains: a, equals: b } }\n"
	       "    then: [stop]\n",
	       "r.yaml:3:35: statement \"s\": statements[0].if.subject.equals: one operator per "
	       "test (\"contains\" and \"equals\"): use all: to combine tests");
	ERR_IS("statements:\n  - name: s\n    then: [ { reject: } ]\n",
	       "r.yaml:3:15: statement \"s\": statements[0].then[0].reject: reject: needs a reason "
	       "(it is kept with the mail in badmail)");
	ERR_IS("statements:\n  - name: s\n    then: [ { create_ticket: { subject: 'a ${' } } ]\n",
	       "r.yaml:3:41: statement \"s\": statements[0].then[0].create_ticket.subject: bad "
	       "template: \"${\" at offset 2 must be followed by a name and \"}\" (write \"$$\" "
	       "for a dollar sign)");
	ERR_IS("statements:\n  - name: s\n    if: false\n    then: [stop]\n",
	       "r.yaml:3:9: statement \"s\": statements[0].if: if: false never matches (remove "
	       "the statement instead)");
	/* the preprocess layer is compiled by rules/preprocess.h, same positions */
	ERR_IS("preprocess:\n  - gmial\n",
	       "r.yaml:2:5: preprocess[0]: no pack named \"gmial\" (did you mean \"gmail\"?)");
	ERR_IS("preprocess:\n  - stage: s\n    rules:\n      - { name: r, match: 'a(', action: "
	       "cut_after }\n",
	       "r.yaml:4:27: preprocess[0].rules[0].match: bad regex at offset 2: missing closing "
	       "parenthesis");
	ERR_IS("fields:\n  Order: { from: subject, pattern: x }\n",
	       "r.yaml:2:3: fields.Order: field name \"Order\" must be lower-case letters, digits "
	       "and '_' (at most 64)");
	ERR_IS("fields:\n  subject: { from: subject, pattern: x }\n",
	       "r.yaml:2:3: fields.subject: field \"subject\" would hide the built-in variable "
	       "${subject}");
	ERR_IS("fields:\n  x: { from: attachment_count, pattern: x }\n",
	       "r.yaml:2:14: fields.x.from: a field cannot come from \"attachment_count\" (use "
	       "subject, body, body_original, from, to, cc, reply_to or header NAME)");
	ERR_IS("statements:\n  - name: s\n    if: { from: { in: { file: /nonexistent/list.txt } } }\n"
	       "    then: [stop]\n",
	       "r.yaml:3:31: statement \"s\": statements[0].if.from.in.file: cannot read list file "
	       "\"/nonexistent/list.txt\": No such file or directory");
}

/* Every prefix of a valid rule file either loads or fails with a message;
 * never a crash or a leak (the sanitizers watch). */
TEST(every_prefix_loads_or_fails_cleanly)
{
	static const char full[] =
		"# rules\n"
		"fields:\n"
		"  order: { type: integer, from: subject, pattern: 'Order (\\d+)', default: 0 }\n"
		"statements:\n"
		"  - name: route\n"
		"    if:\n"
		"      any:\n"
		"        - subject: { matches: '(?<w>printer|vpn)', case: insensitive }\n"
		"        - not: { field order: { less: 10 } }\n"
		"    then:\n"
		"      - create_ticket: { queue: 'q-${w}', tags: [a, b], fields: { o: '${order}' } }\n"
		"      - move_to: Sorted\n"
		"    else if:\n"
		"      - if: { header X-Prio: { in: ['1', '2'] } }\n"
		"        then: [ { append: { as: note } }, { reopen: keep_closed } ]\n"
		"    else: [ { ignore: 'no ${subject}' }, stop ]\n";
	char buf[sizeof(full)];
	size_t ok = 0;
	for (size_t n = 0; n < sizeof(full); n++) {
		memcpy(buf, full, n);
		buf[n] = '\0';
		struct err err = {0};
		struct ruleset *rs = rules_from("p.yaml", buf, &err);
		if (rs) {
			ok++;
			ruleset_free(&rs);
		} else {
			CHECK(err.msg[0] != '\0');
		}
	}
	CHECK(ok > 0);
	struct err err = {0};
	struct ruleset *rs = rules_from("p.yaml", full, &err);
	CHECK(rs != NULL);
	if (rs) {
		CHECK_INT(ruleset_statement_count(rs), 1);
		CHECK_INT(ruleset_folder_count(rs), 1);
		CHECK_STR(ruleset_folder(rs, 0), "Sorted");
	}
	ruleset_free(&rs);
}

int main(void)
{
	RUN(bad_regex_names_offset);
	RUN(unknown_names_suggest);
	RUN(type_mismatches);
	RUN(unreachable_branches_and_statements);
	RUN(structure_errors);
	RUN(every_prefix_loads_or_fails_cleanly);
	return test_summary();
}
