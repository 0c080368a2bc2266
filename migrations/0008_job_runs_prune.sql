-- 0008_job_runs_prune: the daemon deletes old job runs that did nothing.
--
-- A daemon running 1,000 jobs a minute writes about 1.4 million job_runs
-- rows a day, nearly all of them runs that found no mail. Those rows only
-- answer "did the job run?", which the newest run of each job and the lease
-- row answer too; after the retention period (database.job_runs_retention,
-- default 30 days) they go. A run that fetched mail stays as long as the
-- processed_messages rows that point at it (the audit trail of what
-- happened to each message), and the newest run of every job stays, since
-- `status` shows it.
--
-- The partial index holds only the candidates (finished runs that fetched
-- nothing), in age order, so a pass reads the oldest candidates first and
-- never walks the runs that are kept.
CREATE INDEX job_runs_prunable ON job_runs (started_at)
	WHERE fetched = 0 AND finished_at IS NOT NULL;
COMMENT ON INDEX job_runs_prunable IS
	'Finished runs that fetched nothing, oldest first: what m2t_prune_job_runs() may delete.';

-- Deletes up to p_limit finished runs that fetched nothing, started more than
-- p_keep ago, that no processed message points at (a run killed before its
-- counts were written may have committed messages) and that are not the
-- newest run of their job. Returns how many it deleted; the caller repeats
-- while that equals p_limit. Daemons may call it at the same time: a row
-- deleted by one is skipped by the other (SKIP LOCKED), none waits.
CREATE FUNCTION m2t_prune_job_runs(p_keep interval, p_limit integer) RETURNS integer
LANGUAGE sql AS $$
	WITH doomed AS (
		SELECT r.id
		  FROM job_runs r
		 WHERE r.fetched = 0 AND r.finished_at IS NOT NULL
		   AND r.started_at < now() - p_keep
		   AND NOT EXISTS (SELECT 1 FROM processed_messages p WHERE p.job_run_id = r.id)
		   AND EXISTS (SELECT 1 FROM job_runs n
				WHERE n.job = r.job AND n.started_at > r.started_at)
		 ORDER BY r.started_at
		 LIMIT p_limit
		   FOR UPDATE SKIP LOCKED),
	gone AS (DELETE FROM job_runs r USING doomed d WHERE r.id = d.id RETURNING 1)
	SELECT count(*)::integer FROM gone
$$;
COMMENT ON FUNCTION m2t_prune_job_runs(interval, integer) IS
	'Deletes up to p_limit old job runs that fetched nothing (see migration 0008); returns the count.';
