/*
 * Finding a zone by name: UTC built in, "local" from $TZ or /etc/localtime,
 * IANA names as files under the zone directory.
 *
 * SECURITY: a zone name comes from the configuration or the command line
 * and becomes a path: only [A-Za-z0-9._+-] in '/'-separated parts, no empty
 * part, no part "." or "..", no leading '/'; the file must be a regular file
 * of at most TZ_FILE_MAX bytes (tzif.c checks the content).
 */
#include "engine/sched/tz_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/util/str.h"
#include "engine/util/xalloc.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_LOCALTIME "/etc/localtime"

static bool name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
		return false;
	const char *part = name;
	for (const char *p = name;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - part);
			if (n == 0 || (n == 1 && part[0] == '.') ||
			    (n == 2 && part[0] == '.' && part[1] == '.'))
				return false;
			if (*p == '\0')
				return true;
			part = p + 1;
			continue;
		}
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return false;
	}
}

/* Reads a whole regular file of at most TZ_FILE_MAX bytes; -errno or -EFBIG. */
static int file_read(const char *path, uint8_t **data_r, size_t *len_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = 0;
	uint8_t *data = NULL;
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (st.st_size > TZ_FILE_MAX) {
		rc = -EFBIG;
		goto out;
	}
	/* one byte more than allowed: a file that grew meanwhile is caught */
	data = xmalloc(TZ_FILE_MAX + 1);
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, data + len, TZ_FILE_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > TZ_FILE_MAX) {
			rc = -EFBIG;
			goto out;
		}
	}
	*data_r = data;
	*len_r = len;
	data = NULL;
out:
	free(data);
	close(fd);
	return rc;
}

/* by_name: the path was made from an IANA name, so "missing" means "unknown" */
static int load_path(const char *path, const char *name, bool by_name, struct tz **tz_r,
		     struct err *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = file_read(path, &data, &len);
	if (by_name && (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR))
		return err_set(err, ERR_FATAL, "unknown time zone \"%s\"", name);
	if (rc == -EISDIR)
		return err_set(err, ERR_FATAL, "time zone \"%s\": %s is not a file", name, path);
	if (rc == -EFBIG)
		return err_set(err, ERR_FATAL, "time zone \"%s\": %s is larger than %d bytes",
			       name, path, TZ_FILE_MAX);
	if (rc < 0)
		return err_set(err, ERR_FATAL, "time zone \"%s\": cannot read %s: %s", name, path,
			       strerror(-rc));
	rc = tz_parse_tzif(data, len, name, tz_r, err);
	free(data);
	if (rc < 0)
		return err_prefix(err, "time zone \"%s\": %s", name, path);
	return 0;
}

static int load_named(const char *name, struct tz **tz_r, struct err *err)
{
	if (!name_ok(name))
		return err_set(err, ERR_FATAL, "invalid time zone name \"%s\" (expected an IANA "
			       "name such as \"Europe/Berlin\")", name);
	const char *dir = getenv("TZDIR");
	if (!dir || !dir[0])
		dir = TZ_DEFAULT_DIR;
	char *path = xasprintf("%s/%s", dir, name);
	int rc = load_path(path, name, true, tz_r, err);
	free(path);
	return rc;
}

static int load_local(struct tz **tz_r, struct err *err)
{
	const char *tzenv = getenv("TZ");
	int rc;
	if (!tzenv) {
		/* no /etc/localtime: glibc takes UTC too */
		if (access(TZ_LOCALTIME, F_OK) < 0 && errno == ENOENT) {
			*tz_r = tz_alloc_utc("local");
			return 0;
		}
		rc = load_path(TZ_LOCALTIME, "local", false, tz_r, err);
	} else {
		if (tzenv[0] == ':')
			tzenv++;
		if (!tzenv[0]) {
			*tz_r = tz_alloc_utc("local");
			return 0;
		}
		if (tzenv[0] == '/')
			rc = load_path(tzenv, "local", false, tz_r, err);
		else if ((name_ok(tzenv) && load_named(tzenv, tz_r, err) == 0) ||
			 tz_parse_posix(tzenv, tz_r, err) == 0)
			rc = 0;
		else
			rc = err_set(err, ERR_FATAL, "TZ=\"%.64s\" is neither a known zone nor a "
				     "POSIX rule", tzenv);
	}
	if (rc < 0)
		return rc;
	free((*tz_r)->name);
	(*tz_r)->name = xstrdup("local");
	return 0;
}

int tz_load(const char *name, struct tz **tz_r, struct err *err)
{
	*tz_r = NULL;
	if (!name || !name[0] || strcmp(name, "UTC") == 0) {
		*tz_r = tz_alloc_utc("UTC");
		return 0;
	}
	if (strcmp(name, "local") == 0)
		return load_local(tz_r, err);
	return load_named(name, tz_r, err);
}
