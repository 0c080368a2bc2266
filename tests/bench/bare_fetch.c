/*
 * bare_fetch — the limit of this machine for the benchmark: reads every
 * mail of a mailbox over IMAP (UID FETCH BODY.PEEK[] in ranges), parses
 * and stores nothing, and prints "messages bytes seconds".
 *
 *   bare_fetch CONFIG JOB
 *
 * It uses the job's account and mailbox from a mail2ticket config, so it
 * connects exactly as `mail2ticket run` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/config/config.h"
#include "engine/fetch/imap.h"
#include "engine/util/err.h"

struct totals {
	unsigned long long messages;
	unsigned long long bytes;
};

static int count_body(void *ud, uint32_t uid, const char *raw, size_t len, struct err *err)
{
	struct totals *t = ud;
	(void)uid;
	(void)raw;
	(void)err;
	t->messages++;
	t->bytes += len;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct imap_client *c = NULL;
	struct imap_msg_info *infos = NULL;
	uint32_t *uids = NULL;
	size_t n = 0;
	struct err err = {0};
	struct totals t = {0};
	uint32_t uidvalidity, exists;
	char *mailbox = NULL;
	int rc = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: bare_fetch CONFIG JOB\n");
		return 64;
	}
	if (config_load(argv[1], &cfg, &err) < 0)
		goto out;
	const struct config_job *job = config_find_job(cfg, argv[2]);
	if (!job) {
		fprintf(stderr, "bare_fetch: no job %s\n", argv[2]);
		goto out;
	}
	struct imap_limits lim = {.max_line = 64 * 1024, .max_literal = job->limits.max_size};
	double start = now();
	if (imap_connect(job->account, &lim, &c, &err) < 0 ||
	    imap_resolve_mailbox(c, job->mailbox, false, &mailbox, &err) < 0 ||
	    imap_select(c, mailbox, true, &uidvalidity, &exists, &err) < 0 ||
	    imap_list_messages(c, &infos, &n, &err) < 0)
		goto out;
	uids = calloc(n ? n : 1, sizeof(*uids));
	if (!uids)
		goto out;
	for (size_t i = 0; i < n; i++)
		uids[i] = infos[i].uid;
	/* the same batch size as a job, so both send the same FETCH commands */
	size_t batch = job->batch_size ? job->batch_size : 100;
	for (size_t off = 0; off < n; off += batch) {
		size_t k = n - off < batch ? n - off : batch;
		if (imap_fetch_bodies(c, uids + off, k, count_body, &t, &err) < 0)
			goto out;
	}
	printf("%llu %llu %.3f\n", t.messages, t.bytes, now() - start);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "bare_fetch: %s\n", err.msg);
	imap_client_free(&c);
	free(infos);
	free(uids);
	free(mailbox);
	config_free(&cfg);
	return rc;
}
