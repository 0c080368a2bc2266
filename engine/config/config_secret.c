/*
 * Secrets of an account: the password, the proxy's password, an OAuth2
 * client secret. Each is given by one of a file key (preferred), an
 * environment key, or (only where the caller allows it, with a warning) a
 * value written in the config.
 *
 * SECURITY: a secret is registered with log_add_secret() as soon as it is
 * read and never put into an error message: errors about it name the key,
 * the file or the variable only. Buffers that held it are wiped.
 */
#include "engine/config/config_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/log.h"
#include "engine/util/xalloc.h"

#define SECRET_FILE_MAX (64 * 1024)

/* A secret must fit in a protocol line and a C string. */
static bool secret_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			return false;
	return true;
}

static int secret_file_read(const char *path, const char *account,
			    const struct yaml_tree_node *node, char **value_r, struct err *err)
{
	int rc = -1;
	size_t len = 0;
	char *data = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return yaml_tree_error(err, node, "cannot read \"%s\": %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		yaml_tree_error(err, node, "cannot read \"%s\": %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		yaml_tree_error(err, node, "cannot read \"%s\": not a regular file", path);
		goto out;
	}
	if (st.st_size > SECRET_FILE_MAX) {
		yaml_tree_error(err, node, "\"%s\" is larger than %d bytes", path, SECRET_FILE_MAX);
		goto out;
	}
	data = xmalloc(SECRET_FILE_MAX + 2);
	for (;;) {
		ssize_t n = read(fd, data + len, SECRET_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			yaml_tree_error(err, node, "cannot read \"%s\": %s", path, strerror(errno));
			goto out;
		}
		if (n == 0 || (len += (size_t)n) > SECRET_FILE_MAX)
			break;
	}
	if (len > SECRET_FILE_MAX) {
		yaml_tree_error(err, node, "\"%s\" is larger than %d bytes", path, SECRET_FILE_MAX);
		goto out;
	}
	/* editors and `echo` add one newline; strip exactly one */
	if (len && data[len - 1] == '\n')
		len--;
	if (len && data[len - 1] == '\r')
		len--;
	if (len == 0) {
		yaml_tree_error(err, node, "\"%s\" is empty", path);
		goto out;
	}
	if (!secret_ok(data, len)) {
		yaml_tree_error(err, node, "\"%s\" must hold one line without NUL bytes", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		char clean[256];
		log_warn("config.secret_file", "file=%s:%u account=%s key=%s path=\"%s\" mode=%03o "
			 "msg=\"secret file is readable by group or others\"",
			 node->file, node->line, account, node->key ? node->key : "",
			 log_clean(path, strlen(path), clean, sizeof(clean)),
			 (unsigned)(st.st_mode & 0777));
	}
	*value_r = xmemdup0(data, len);
	rc = 0;
out:
	if (data) {
		explicit_bzero(data, SECRET_FILE_MAX + 2);
		free(data);
	}
	close(fd);
	return rc;
}

int config_secret_parse(const struct yaml_tree_node *map, const char *account,
			const struct config_secret_keys *keys, bool required,
			struct config_secret *s, struct err *err)
{
	const struct yaml_tree_node *file = yaml_tree_get(map, keys->file);
	const struct yaml_tree_node *env = yaml_tree_get(map, keys->env);
	const struct yaml_tree_node *inl = keys->inline_ ? yaml_tree_get(map, keys->inline_) : NULL;
	int given = (file != NULL) + (env != NULL) + (inl != NULL);
	s->value = NULL;
	s->ref = NULL;
	s->source = SECRET_NONE;
	if (given == 0 && !required)
		return 0;
	if (given == 0 && keys->inline_)
		return yaml_tree_error(err, map, "missing required key \"%s\" (or \"%s\", \"%s\")",
				       keys->file, keys->env, keys->inline_);
	if (given == 0)
		return yaml_tree_error(err, map, "missing required key \"%s\" (or \"%s\")",
				       keys->file, keys->env);
	if (given > 1 && keys->inline_)
		return yaml_tree_error(err, map, "give only one of %s, %s and %s", keys->file,
				       keys->env, keys->inline_);
	if (given > 1)
		return yaml_tree_error(err, map, "give only one of %s and %s", keys->file,
				       keys->env);
	if (file) {
		s->source = SECRET_FILE;
		if (config_read_text(file, &s->ref, err) < 0 ||
		    secret_file_read(s->ref, account, file, &s->value, err) < 0)
			return -1;
	} else if (env) {
		s->source = SECRET_ENV;
		if (config_read_env_name(env, &s->ref, err) < 0)
			return -1;
		const char *v = getenv(s->ref);
		if (!v)
			return yaml_tree_error(err, env, "environment variable \"%s\" is not set",
					       s->ref);
		if (!v[0])
			return yaml_tree_error(err, env, "environment variable \"%s\" is empty",
					       s->ref);
		if (!secret_ok(v, strlen(v)))
			return yaml_tree_error(err, env, "environment variable \"%s\" must hold "
					       "one line", s->ref);
		s->value = xstrdup(v);
	} else {
		/* never describe the value: that would print the secret */
		s->source = SECRET_INLINE;
		if (inl->kind != YAML_TREE_SCALAR)
			return yaml_tree_error(err, inl, "expected a string");
		if (yaml_tree_is_null(inl))
			return yaml_tree_error(err, inl, "must not be empty");
		if (!secret_ok(inl->value, inl->len))
			return yaml_tree_error(err, inl, "must be one line without NUL bytes");
		s->value = xmemdup0(inl->value, inl->len);
		log_warn("config.secret_inline", "file=%s:%u account=%s key=%s msg=\"secret "
			 "written in the config file; prefer %s or %s\"", inl->file, inl->line,
			 account, keys->inline_, keys->file, keys->env);
	}
	log_add_secret(s->value);
	return 0;
}

void config_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
