/*
 * Internals of the statement rules, shared by the rules/ files that compile
 * and run them (ruleset.c, fields.c, cond.c, cond_eval.c, action.c,
 * stmt.c, template.c, decide.c). Nothing outside rules/ includes this.
 *
 * A compiled ruleset is immutable and may be shared by threads. Everything
 * it holds lives in its own arena (rs->mem), except the compiled patterns,
 * which are listed in rs->rxs and freed with it.
 */
#ifndef M2T_RULES_INT_H
#define M2T_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/mime/message.h"
#include "engine/util/arena.h"
#include "engine/util/err.h"
#include "rules/plan.h"
#include "rules/regex.h"
#include "rules/trace.h"
#include "rules/yaml_tree.h"

struct preprocess;

/* ------------------------------------------------------------ values */

enum vtype {
	VT_TEXT,
	VT_INT,
	VT_DECIMAL,
	VT_DATE,      /* days since 1970-01-01 */
	VT_BOOL,
};

/* A field's declared type; each maps to a vtype. */
enum ftype {
	FT_STRING,
	FT_INTEGER,
	FT_DECIMAL,
	FT_DATE,
	FT_EMAIL,
	FT_TICKET,
};

struct value {
	bool set;
	enum vtype type;
	const char *text;   /* always set when `set`: the canonical text form */
	size_t len;
	int64_t i;          /* VT_INT, VT_DATE */
	double d;           /* VT_DECIMAL (and VT_INT as a double) */
	bool b;
};

/* Parses text as type t into v (text kept as canonical form, allocated in
 * arena). -1 with a short reason in why[] when it does not parse. */
int value_parse(enum ftype t, const char *s, size_t len, struct arena *arena, struct value *v,
		char *why, size_t whylen);
enum vtype ftype_vtype(enum ftype t);
const char *ftype_name(enum ftype t);

/* ------------------------------------------------------------ sources */

enum src {
	SRC_FROM, SRC_FROM_NAME, SRC_FROM_DOMAIN, SRC_REPLY_TO, SRC_TO, SRC_CC,
	SRC_RECIPIENTS, SRC_SUBJECT, SRC_BODY, SRC_BODY_ORIGINAL, SRC_HEADER,
	SRC_ATTACHMENT_COUNT, SRC_ATTACHMENT_NAMES, SRC_ATTACHMENT_TYPES, SRC_SIZE,
	SRC_CLIENT, SRC_AUTO_REPLY, SRC_BOUNCE, SRC_BULK, SRC_FOLLOW_UP, SRC_SPAM,
	SRC_SPAM_SCORE, SRC_FIELD, SRC_ACCOUNT, SRC_JOB, SRC_MESSAGE_ID,
};

struct src_def {
	const char *name;
	enum src src;
	enum vtype type;
	bool named;   /* "header NAME", "field NAME" */
};

/* The source called name (the word before a space for named ones). */
const struct src_def *src_find(const char *name, size_t len);
/* NULL-terminated list of source names, for "did you mean". */
const char *const *src_names(void);

/* ------------------------------------------------------------ positions */

struct pos {
	const char *file;   /* owned by the ruleset */
	unsigned line, column;
};

/* ------------------------------------------------------------ templates */

struct tmpl_part {
	bool var;
	const char *s;      /* literal text, or the variable's name */
	size_t len;
};

struct tmpl {
	struct tmpl_part *parts;
	size_t nparts;
	const char *source; /* as written */
	bool single_var;    /* exactly "${x}": keeps a field's type in JSON */
	const char *literal;      /* no variables: the text, cleaned (newlines kept) */
	const char *literal_line; /* the same kept to one line */
};

/* ------------------------------------------------------------ fields */

struct field_def {
	const char *name;
	enum ftype type;
	enum src src;        /* SRC_SUBJECT, SRC_BODY, SRC_BODY_ORIGINAL, SRC_FROM, SRC_TO, SRC_HEADER... */
	const char *header;  /* SRC_HEADER */
	struct regex *rx;
	uint32_t group;      /* the group whose text is the value */
	struct value def;    /* .set when a default was given */
	struct pos pos;
};

/* ------------------------------------------------------------ conditions */

enum op {
	OP_EQUALS, OP_CONTAINS, OP_STARTS_WITH, OP_ENDS_WITH, OP_MATCHES, OP_IN, OP_EXISTS,
	OP_GREATER, OP_LESS,
};

enum cond_kind {
	COND_ALL,
	COND_ANY,
	COND_NOT,
	COND_TEST,
};

struct cond {
	enum cond_kind kind;
	struct pos pos;
	struct cond **kids;     /* ALL / ANY / NOT */
	size_t nkids;

	/* COND_TEST */
	const struct src_def *src;
	const char *name;       /* header or field name */
	size_t field;           /* SRC_FIELD: index in rs->fields */
	enum vtype type;        /* of the source (a field's type for SRC_FIELD) */
	enum op op;
	bool caseless;
	const char *text;       /* text operand (folded when caseless and op is OP_IN) */
	size_t text_len;
	struct regex *rx;          /* OP_MATCHES; caseless text ops: the literal, anchored as needed */
	const char **set;       /* OP_IN on text: sorted (folded when caseless) */
	size_t nset;
	struct value num;       /* number, date or bool operand */
	struct value *nums;     /* OP_IN on numbers */
	bool exists;            /* OP_EXISTS */
};

/* ------------------------------------------------------------ actions */

enum act_kind {
	ACT_CREATE_TICKET, ACT_APPEND, ACT_SET, ACT_REOPEN, ACT_IGNORE, ACT_REJECT, ACT_MOVE_TO,
	ACT_STOP,
};

struct act_field {
	const char *key;
	struct tmpl *val;
};

struct act_ticket {
	struct tmpl *subject, *body, *queue, *priority, *status, *type, *owner, *group;
	struct tmpl **tags;
	size_t ntags;
	struct act_field *fields;
	size_t nfields;
};

struct action {
	enum act_kind kind;
	struct pos pos;
	struct act_ticket t;        /* create_ticket, set */
	bool always_new;            /* create_ticket: even when the mail is a follow-up */
	enum plan_article article;  /* append */
	enum plan_fallback if_none; /* append */
	enum plan_closed closed;    /* reopen */
	struct tmpl *reason;        /* ignore, reject */
	const char *folder;         /* move_to */
};

/* ------------------------------------------------------------ statements */

struct branch {
	const char *label;          /* "vip", "vip (else if 1)", "vip (else)" */
	struct cond *cond;          /* NULL: always */
	struct action *actions;
	size_t nactions;
	struct pos pos;
};

struct stmt {
	const char *name;
	struct pos pos;
	struct branch *branches;    /* if, else if..., else */
	size_t nbranches;
};

/* ------------------------------------------------------------ the ruleset */

struct tmpl_use {               /* for checking names once every capture is known */
	const struct tmpl *t;
	struct pos pos;
	const char *stmt;
	const char *path;
};

struct ruleset {
	struct arena *mem;
	struct regex **rxs;            /* every compiled pattern, freed with the set */
	size_t nrx, caprx;
	const char **files;         /* the rule files, in order */
	size_t nfiles;
	struct preprocess *pre;     /* the `preprocess:` stages of every file that has the
				       key, in file order; NULL when none has it */
	struct field_def *fields;
	size_t nfields, capfields;
	struct stmt *stmts;
	size_t nstmts, capstmts;
	const char **vars;          /* every variable a template may name */
	size_t nvars, capvars;
	const char **folders;       /* move_to targets */
	const char **folder_at;     /* each one's first move_to: "file:line:column: statement
				       "x": path" */
	size_t nfolders, capfolders;
	struct tmpl_use *tmpls;
	size_t ntmpls, captmpls;
	bool allow_files;           /* `in: { file: }` lists may be read */
};

/* ------------------------------------------------------------ compiling */

struct cc {                     /* compile context */
	struct ruleset *rs;
	const char *file;           /* the current file (owned by rs) */
	const char *dir;            /* its directory, for list files */
	const char *stmt;           /* the statement being compiled, NULL outside */
};

/* Error at node, ERR_FATAL "file:line:column: statement "x": path: message"
 * (without the statement outside one). Returns -1. */
int cc_error(const struct cc *cc, struct err *err, const struct yaml_tree_node *node,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Adds `statement "x": ` to an error set by a yaml_tree reader. Returns -1. */
int cc_fail(const struct cc *cc, struct err *err);
void cc_pos(const struct cc *cc, const struct yaml_tree_node *node, struct pos *pos);
/* Compiles a pattern into rs (freed with it); a bad one is an error at node
 * naming the offset. */
int cc_rx(const struct cc *cc, const struct yaml_tree_node *node, const char *pattern,
	  size_t len, unsigned flags, struct regex **rx_r, struct err *err);
/* A string copied into rs->mem. */
const char *cc_strdup(const struct cc *cc, const char *s);
/* Records a template variable name (capture or field). */
void cc_add_var(struct cc *cc, const char *name);
bool cc_has_var(const struct cc *cc, const char *name, size_t len);
/* Reads a list file (relative to the rule file's directory): one entry a
 * line, '#' comments; entries copied into rs->mem. */
int cc_list_file(const struct cc *cc, const struct yaml_tree_node *node, const char *path,
		 const char ***items_r, size_t *n_r, struct err *err);

int fields_compile(struct cc *cc, const struct yaml_tree_node *map, struct err *err);
int cond_compile(struct cc *cc, const struct yaml_tree_node *node, struct cond **c_r,
		 struct err *err);
/* True when the condition can never be false (an empty all:). */
bool cond_always(const struct cond *c);
int actions_compile(struct cc *cc, const struct yaml_tree_node *node, struct action **v_r,
		    size_t *n_r, struct err *err);
int stmts_compile(struct cc *cc, const struct yaml_tree_node *seq, struct err *err);
/* Template text; names are checked later by tmpl_check (all captures known). */
int tmpl_compile(struct cc *cc, const struct yaml_tree_node *node, struct tmpl **t_r,
		 struct err *err);
/* Every ${name} of every template names a known variable. */
int tmpl_check_all(struct cc *cc, struct err *err);

/* ------------------------------------------------------------ running */

struct var {
	const char *name;
	const char *val;
	size_t len;
};

struct msg_flags {
	bool auto_reply, bounce, bulk, follow_up, spam, own;
	bool has_spam_score;
	double spam_score;
	const char *why_auto;       /* the header that made it an auto-reply ... */
	const char *why_bulk;
	const char *why_bounce;
	const char *why_own;
};

struct strvec {
	const char **v;
	size_t n, cap;
};

struct kv {
	const char *key;
	const char *json;           /* the value as JSON text */
};

struct kvvec {
	struct kv *v;
	size_t n, cap;
};

struct eval {
	const struct ruleset *rs;
	const struct message *msg;
	struct arena *arena;
	const struct regex_limits *lim;   /* of every match (rules/regex.h) */
	struct regex_match match;   /* the last successful match */
	const char *body;           /* cleaned text (preprocessing's result) */
	size_t body_len;
	const char *original;       /* the whole text preprocessing started from */
	size_t original_len;
	const char *client;         /* detected client, NULL when unknown */
	const char *account, *job;
	const struct msg_flags *flags;
	const char *ticket_number;  /* first subject tag number, NULL when none */
	struct value *fields;       /* rs->nfields */
	struct var *vars;           /* captures, the latest last */
	size_t nvars, capvars;
	struct trace_stmt *cur;     /* the trace entry of the running statement */
	struct plan *plan;
	struct strvec ticket_tags, set_tags;    /* become plan->ticket.tags / set.tags */
	struct kvvec ticket_fields, set_fields; /* become the *.fields_json objects */
	uint64_t deadline_ns;       /* monotonic; 0: none */
	unsigned steps;
};

int fields_extract(struct eval *ev, struct trace *tr, struct err *err);
/* 1 true, 0 false, -1 error (ERR_MESSAGE: a pattern gave up). */
int cond_eval(struct eval *ev, const struct cond *c, struct err *err);
/* Applies one action to ev->plan; 1 when it is `stop`. */
int action_apply(struct eval *ev, const struct action *a, struct err *err);
/* Runs every statement; fills trace->stmts. */
int stmts_run(struct eval *ev, struct trace *tr, struct err *err);
/* Expands t (NULL gives NULL) into the arena; cut at max bytes. */
char *tmpl_expand(struct eval *ev, const struct tmpl *t, size_t max);
/* The value of a variable: capture, field or built-in; NULL when unset. */
const char *eval_var(struct eval *ev, const char *name, size_t nlen, size_t *len_r);
/* Captures of the last match of rx on s are added as variables (and traced). */
void eval_add_captures(struct eval *ev, const struct regex *rx, const char *s);

/* Source texts (one value for single sources). */
struct text_val {
	const char *s;
	size_t len;
};
/* The text values of src (name for header): *v_r is `small` (EVAL_SMALL
 * entries, the caller's) or, for more values, an array in the arena. */
#define EVAL_SMALL 8
void eval_texts(struct eval *ev, enum src src, const char *name, struct text_val *small,
		struct text_val **v_r, size_t *n_r);

/* ------------------------------------------------------------ text helpers */

/* Simple Unicode case folding (C.UTF-8 locale), into arena; ASCII fast. */
char *text_fold(struct arena *arena, const char *s, size_t len, size_t *len_r);
/* Folds into out (at most outlen-1 bytes); returns NULL when it does not fit. */
char *text_fold_buf(const char *s, size_t len, char *out, size_t outlen, size_t *len_r);
/* The domain of an address, lower-case ASCII as written ("" when none). */
const char *addr_domain(const char *email);

#endif
