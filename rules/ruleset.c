/*
 * Loading rule files: the top level of each file, the compile context
 * every part uses for its errors, and list files.
 *
 * SECURITY: rule files and list files are admin input; both are read with
 * size caps, and nothing of them is executed or passed to a shell.
 */
#include "rules/ruleset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/str.h"
#include "engine/util/xalloc.h"
#include "rules/preprocess.h"
#include "rules/rules_int.h"

#define LIST_MAX_BYTES (1024 * 1024)
#define LIST_MAX_ITEMS 100000

static const char *const top_keys[] = {"preprocess", "fields", "statements", NULL};

/* ------------------------------------------------------------ compile context */

void cc_pos(const struct cc *cc, const struct yaml_tree_node *node, struct pos *pos)
{
	pos->file = cc->file;
	pos->line = node->line;
	pos->column = node->column;
}

int cc_error(const struct cc *cc, struct err *err, const struct yaml_tree_node *node,
	     const char *fmt, ...)
{
	char msg[400];
	char path[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yaml_tree_path(node, path, sizeof(path));
	const char *file = node->file ? node->file : "?";
	if (cc->stmt)
		return err_set(err, ERR_FATAL, "%s:%u:%u: statement \"%s\": %s%s%s", file,
			       node->line, node->column, cc->stmt, path, path[0] ? ": " : "", msg);
	return err_set(err, ERR_FATAL, "%s:%u:%u: %s%s%s", file, node->line, node->column, path,
		       path[0] ? ": " : "", msg);
}

/* Length of the "file:line:column: " a yaml_tree error starts with, 0 if none. */
static size_t pos_prefix_len(const char *msg)
{
	/* the file name may hold ':'; the position is the first ":N:N: " run */
	for (const char *p = strchr(msg, ':'); p; p = strchr(p + 1, ':')) {
		const char *q = p + 1;
		int parts = 0;
		while (parts < 2 && *q >= '0' && *q <= '9') {
			while (*q >= '0' && *q <= '9')
				q++;
			if (*q != ':')
				break;
			q++;
			parts++;
		}
		if (parts == 2 && *q == ' ')
			return (size_t)(q + 1 - msg);
	}
	return 0;
}

int cc_fail(const struct cc *cc, struct err *err)
{
	if (!cc->stmt)
		return -1;
	size_t at = pos_prefix_len(err->msg);
	char mark[200];
	snprintf(mark, sizeof(mark), "statement \"%s\": ", cc->stmt);
	if (strncmp(err->msg + at, mark, strlen(mark)) == 0)
		return -1; /* named already */
	char copy[sizeof(err->msg)];
	memcpy(copy, err->msg, sizeof(copy));
	return err_set(err, ERR_FATAL, "%.*sstatement \"%s\": %s", (int)at, copy, cc->stmt,
		       copy + at);
}

const char *cc_strdup(const struct cc *cc, const char *s)
{
	return arena_strdup(cc->rs->mem, s);
}

int cc_rx(const struct cc *cc, const struct yaml_tree_node *node, const char *pattern,
	  size_t len, unsigned flags, struct regex **rx_r, struct err *err)
{
	struct ruleset *rs = cc->rs;
	size_t off;
	struct err rerr = {0};
	/* "bad regex at offset N: why"; N is in the pattern as the scalar holds it */
	if (regex_compile(pattern, len, flags, rx_r, &off, &rerr) < 0)
		return cc_error(cc, err, node, "%s", rerr.msg);
	if (rs->nrx == rs->caprx) {
		rs->caprx = rs->caprx ? rs->caprx * 2 : 32;
		rs->rxs = xreallocarray(rs->rxs, rs->caprx, sizeof(*rs->rxs));
	}
	rs->rxs[rs->nrx++] = *rx_r;
	return 0;
}

bool cc_has_var(const struct cc *cc, const char *name, size_t len)
{
	for (size_t i = 0; i < cc->rs->nvars; i++)
		if (strlen(cc->rs->vars[i]) == len && memcmp(cc->rs->vars[i], name, len) == 0)
			return true;
	return false;
}

void cc_add_var(struct cc *cc, const char *name)
{
	struct ruleset *rs = cc->rs;
	if (cc_has_var(cc, name, strlen(name)))
		return;
	if (rs->nvars == rs->capvars) {
		rs->capvars = rs->capvars ? rs->capvars * 2 : 32;
		rs->vars = xreallocarray(rs->vars, rs->capvars, sizeof(*rs->vars));
	}
	rs->vars[rs->nvars++] = cc_strdup(cc, name);
}

/* ------------------------------------------------------------ list files */

static char *path_join(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir || !dir[0])
		return xstrdup(path);
	return xasprintf("%s/%s", dir, path);
}

static int read_small_file(const char *path, char **data_r, size_t *len_r, const char **why_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	*data_r = NULL;
	if (fd < 0) {
		*why_r = strerror(errno);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why_r = "not a regular file";
		close(fd);
		return -1;
	}
	if (st.st_size > LIST_MAX_BYTES) {
		*why_r = "larger than 1 MB";
		close(fd);
		return -1;
	}
	char *data = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	data[got] = '\0';
	*data_r = data;
	*len_r = got;
	return 0;
}

int cc_list_file(const struct cc *cc, const struct yaml_tree_node *node, const char *path,
		 const char ***items_r, size_t *n_r, struct err *err)
{
	if (!cc->rs->allow_files)
		return cc_error(cc, err, node, "list files are not allowed here");
	char *full = path_join(cc->dir, path);
	char *data = NULL;
	size_t len = 0, n = 0, cap = 0;
	const char **items = NULL;
	const char *why = NULL;
	int rc = -1;
	if (read_small_file(full, &data, &len, &why) < 0) {
		cc_error(cc, err, node, "cannot read list file \"%s\": %s", full, why);
		goto out;
	}
	if (memchr(data, '\0', len)) {
		cc_error(cc, err, node, "list file \"%s\" holds a NUL byte", full);
		goto out;
	}
	unsigned lineno = 0;
	for (char *line = data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		/* '#' starts a comment only at the start of a line or after a space:
		 * "a#b@example.com" is a valid address */
		for (char *h = line; (h = strchr(h, '#')) != NULL; h++) {
			if (h == line || h[-1] == ' ' || h[-1] == '\t') {
				*h = '\0';
				break;
			}
		}
		size_t l = strlen(line);
		while (l && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
			line[--l] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line)
			continue;
		if (n == LIST_MAX_ITEMS) {
			cc_error(cc, err, node, "list file \"%s\" has more than %d entries (line %u)",
				 full, LIST_MAX_ITEMS, lineno);
			goto out;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			items = xreallocarray(items, cap, sizeof(*items));
		}
		items[n++] = cc_strdup(cc, line);
	}
	*items_r = arena_alloc(cc->rs->mem, (n ? n : 1) * sizeof(char *));
	if (n)
		memcpy(*items_r, items, n * sizeof(char *));
	*n_r = n;
	rc = 0;
out:
	free(items);
	free(data);
	free(full);
	return rc;
}

/* ------------------------------------------------------------ loading */

void ruleset_free(struct ruleset **rsp)
{
	struct ruleset *rs = *rsp;
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nrx; i++)
		regex_free(&rs->rxs[i]);
	free(rs->rxs);
	preprocess_free(&rs->pre);
	free(rs->fields);
	free(rs->stmts);
	free(rs->vars);
	free(rs->folders);
	free(rs->folder_at);
	free(rs->tmpls);
	arena_free(&rs->mem);
	free(rs);
	*rsp = NULL;
}

/* The built-in template variables (README "Templates"). */
static const char *const builtin_vars[] = {
	"subject", "from", "from_name", "from_domain", "to", "body", "account", "job",
	"message_id", "client", "date", "ticket_number", NULL,
};

static int file_check(struct cc *cc, const struct yaml_tree_node *root, struct err *err)
{
	if (!root || yaml_tree_is_null(root))
		return 0;
	if (yaml_tree_expect_mapping(root, err) < 0 || yaml_tree_check_keys(root, top_keys, err) < 0)
		return -1;
	(void)cc;
	return 0;
}

int ruleset_compile(const struct yaml_tree_node *const *roots, size_t n, bool allow_files,
		    struct ruleset **rs_r, struct err *err)
{
	struct ruleset *rs = xcalloc(1, sizeof(*rs));
	struct cc cc = {.rs = rs};
	char *dir = NULL;
	int rc = -1;
	*rs_r = NULL;
	rs->mem = arena_new();
	rs->allow_files = allow_files;
	rs->files = arena_alloc(rs->mem, (n ? n : 1) * sizeof(char *));
	for (size_t i = 0; builtin_vars[i]; i++)
		cc_add_var(&cc, builtin_vars[i]);

	for (size_t i = 0; i < n; i++) {
		const struct yaml_tree_node *r = roots[i];
		rs->files[i] = cc_strdup(&cc, r && r->file ? r->file : "(rules)");
		rs->nfiles = i + 1;
		if (file_check(&cc, r, err) < 0)
			goto out;
	}
	/* fields of every file first: statements of any file may use them */
	for (size_t i = 0; i < n; i++) {
		const struct yaml_tree_node *f = roots[i] ? yaml_tree_get(roots[i], "fields") : NULL;
		free(dir);
		dir = str_dirname(rs->files[i]);
		cc.file = rs->files[i];
		cc.dir = dir;
		if (f && !yaml_tree_is_null(f) && fields_compile(&cc, f, err) < 0)
			goto out;
	}
	/* one pipeline of every file's stages, in file order: a file adds to
	 * the stages of the files before it (README "Preprocessing") */
	if (n) {
		const struct yaml_tree_node **pre = xcalloc(n, sizeof(*pre));
		bool any = false;
		for (size_t i = 0; i < n; i++) {
			pre[i] = roots[i] ? yaml_tree_get(roots[i], "preprocess") : NULL;
			any |= pre[i] != NULL;
		}
		int prc = any ? preprocess_compile_list(pre, n, &rs->pre, err) : 0;
		free(pre);
		if (prc < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct yaml_tree_node *s = roots[i] ? yaml_tree_get(roots[i], "statements") : NULL;
		free(dir);
		dir = str_dirname(rs->files[i]);
		cc.file = rs->files[i];
		cc.dir = dir;
		if (s && !yaml_tree_is_null(s) && stmts_compile(&cc, s, err) < 0)
			goto out;
	}
	if (tmpl_check_all(&cc, err) < 0)
		goto out;
	*rs_r = rs;
	rs = NULL;
	rc = 0;
out:
	free(dir);
	ruleset_free(&rs);
	return rc;
}

int ruleset_load(const char *const *paths, size_t n, struct ruleset **rs_r, struct err *err)
{
	struct yaml_tree **trees = xcalloc(n ? n : 1, sizeof(*trees));
	const struct yaml_tree_node **roots = xcalloc(n ? n : 1, sizeof(*roots));
	int rc = -1;
	*rs_r = NULL;
	for (size_t i = 0; i < n; i++) {
		if (yaml_tree_load_file(paths[i], NULL, &trees[i], err) < 0)
			goto out;
		roots[i] = yaml_tree_root(trees[i]);
	}
	/* an empty file still names itself in errors and traces */
	struct yaml_tree_node *empty = xcalloc(n ? n : 1, sizeof(*empty));
	for (size_t i = 0; i < n; i++) {
		if (!roots[i]) {
			empty[i].kind = YAML_TREE_MAPPING;
			empty[i].file = paths[i];
			empty[i].line = 1;
			empty[i].column = 1;
			roots[i] = &empty[i];
		}
	}
	rc = ruleset_compile(roots, n, true, rs_r, err);
	free(empty);
out:
	for (size_t i = 0; i < n; i++)
		yaml_tree_free(&trees[i]);
	free(trees);
	free(roots);
	return rc;
}

size_t ruleset_file_count(const struct ruleset *rs)
{
	return rs->nfiles;
}

size_t ruleset_field_count(const struct ruleset *rs)
{
	return rs->nfields;
}

size_t ruleset_statement_count(const struct ruleset *rs)
{
	return rs->nstmts;
}

const struct preprocess *ruleset_preprocess(const struct ruleset *rs)
{
	return rs ? rs->pre : NULL;
}

int ruleset_pipeline(const struct ruleset *rs, const struct preprocess **pp_r,
		     struct preprocess **own_r, struct err *err)
{
	*own_r = NULL;
	*pp_r = ruleset_preprocess(rs);
	if (*pp_r)
		return 0;
	if (preprocess_default(own_r, err) < 0)
		return -1;
	*pp_r = *own_r;
	return 0;
}

size_t ruleset_folder_count(const struct ruleset *rs)
{
	return rs->nfolders;
}

const char *ruleset_folder(const struct ruleset *rs, size_t i)
{
	return rs->folders[i];
}

const char *ruleset_folder_at(const struct ruleset *rs, size_t i)
{
	return rs->folder_at[i];
}
