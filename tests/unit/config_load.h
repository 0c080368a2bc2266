/*
 * Shared by the configuration unit tests: write a YAML text to a file in a
 * private directory and load it, or get the load error without the file
 * name in front. Header-only: include it in one test file.
 */
#ifndef M2T_TEST_CONFIG_LOAD_H
#define M2T_TEST_CONFIG_LOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config/config.h"

static char g_dir[256];
static char g_cfg[300];

/* A private directory under $TMPDIR (or /tmp) named after `tag`; 0 or -1. */
static inline int config_dir_make(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(g_dir, sizeof(g_dir), "%s/m2t-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp", tag);
	if (!mkdtemp(g_dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(g_cfg, sizeof(g_cfg), "%s/config.yaml", g_dir);
	return 0;
}

static inline void config_dir_remove(void)
{
	unlink(g_cfg);
	rmdir(g_dir);
}

static inline int load_text(const char *text, struct config **cfg, struct err *err)
{
	FILE *f = fopen(g_cfg, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(g_cfg);
		exit(2);
	}
	err_clear(err);
	return config_load(g_cfg, cfg, err);
}

/* The error without the file name in front; "OK" when the file loaded. */
static inline const char *load_err(const char *text)
{
	static char out[600];
	struct config *cfg = NULL;
	struct err err;
	if (load_text(text, &cfg, &err) == 0) {
		config_free(&cfg);
		return "OK";
	}
	if (err.cls != ERR_FATAL || cfg != NULL)
		return "BAD CLASS OR RESULT";
	const char *m = err.msg;
	if (strncmp(m, g_cfg, strlen(g_cfg)) == 0)
		m += strlen(g_cfg);
	snprintf(out, sizeof(out), "%s", m);
	return out;
}

#endif
