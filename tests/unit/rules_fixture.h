/*
 * Shared helpers of the rules tests: compiling rule YAML from a string and
 * building messages by hand (no GMime needed).
 */
#ifndef M2T_RULES_FIXTURE_H
#define M2T_RULES_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "rules/ruleset.h"
#include "rules/yaml_tree.h"

/* Compiles one rule file given as text, named `name`. NULL on error (err set). */
static inline struct ruleset *rules_from(const char *name, const char *yaml, struct err *err)
{
	struct yaml_tree *tree = NULL;
	struct ruleset *rs = NULL;
	if (yaml_tree_parse(yaml, strlen(yaml), name, NULL, &tree, err) < 0)
		return NULL;
	const struct yaml_tree_node *root = yaml_tree_root(tree);
	const struct yaml_tree_node *roots[1] = {root};
	if (!root) {
		yaml_tree_free(&tree);
		err_set(err, ERR_FATAL, "empty");
		return NULL;
	}
	if (ruleset_compile(roots, 1, true, &rs, err) < 0)
		rs = NULL;
	yaml_tree_free(&tree);
	return rs;
}

/* The error text of compiling yaml ("" when it compiled). */
static inline const char *rules_error(const char *yaml, struct err *err)
{
	memset(err, 0, sizeof(*err));
	struct ruleset *rs = rules_from("r.yaml", yaml, err);
	if (rs) {
		ruleset_free(&rs);
		return "";
	}
	return err->msg;
}

struct msg_fixture {
	struct message m;
	struct address to[4];
	struct address cc[4];
	struct header h[16];
	struct attachment att[4];
};

/* A plain mail: From Anna, To support, Subject as given, body as given. */
static inline void msg_init(struct msg_fixture *f, const char *subject, const char *body)
{
	memset(f, 0, sizeof(*f));
	struct message *m = &f->m;
	m->message_id = "m1@example.org";
	m->subject = subject;
	m->from.name = "Anna Schmidt";
	m->from.email = "anna@example.org";
	m->reply_to.name = "";
	m->reply_to.email = "";
	f->to[0] = (struct address){"Support", "support@example.com"};
	m->to.v = f->to;
	m->to.n = 1;
	m->cc.v = f->cc;
	m->text = body;
	m->text_len = strlen(body);
	m->headers = f->h;
	m->raw_size = 1234;
	memset(m->raw_sha256, 'a', 64);
}

static inline void msg_header(struct msg_fixture *f, const char *name, const char *value)
{
	f->h[f->m.nheaders].name = name;
	f->h[f->m.nheaders].value = value;
	f->m.nheaders++;
}

static inline void msg_attach(struct msg_fixture *f, const char *name, const char *type,
			      const char *data)
{
	struct attachment *a = &f->att[f->m.nattachments++];
	a->filename = name;
	a->content_type = type;
	a->data = (const unsigned char *)data;
	a->size = strlen(data);
	memset(a->sha256, 'b', 64);
	f->m.attachments = f->att;
}

#endif
