-- 0005_leases: which daemon runs which job, the schedule slot each job last
-- ran, and who ran each job run (DESIGN.md, decision 5: any number of daemons
-- share one database, never two of them on the same job at once).
--
-- Ownership is a lease ROW, not an advisory lock. pg_advisory_lock() belongs
-- to a server session: behind a pooler in transaction mode (PgBouncer
-- pool_mode=transaction, the usual way to keep connection counts down) the
-- server session under a client changes between transactions, so a lock
-- would be taken on one server connection and "released" on another, or
-- stay held by a connection that now serves somebody else. A lease row is
-- plain data changed by single statements: it works through any pooler, it
-- survives a daemon's reconnect, it expires on its own when its holder dies
-- (no need to wait for TCP to notice a dead peer), and anyone can read it
-- (`mail2ticket status` shows who holds what). The price: a heartbeat (one
-- UPDATE for all of a daemon's running jobs every third of the TTL) and a
-- takeover within one TTL (~30 s) rather than at once.
--
-- Slots: a lease alone would let two daemons run the same schedule slot one
-- after the other (the second claims the lease the moment the first
-- releases it). So the row also keeps the slot (the schedule's fire time)
-- of the last run started; a claim for a slot not later than that one is
-- refused. Backoff is kept here too (failures in a row, retry_at), so that a
-- failing job is retried at the pace of its backoff whichever daemon tries.
--
-- Every time here is the database's clock (now()); slots are the daemons'
-- schedule times, so the daemons' clocks must agree (NTP) to the second.

CREATE TABLE job_leases (
	job             text PRIMARY KEY,
	holder_host     text,
	holder_pid      integer,
	holder_id       text,
	acquired_at     timestamptz,
	renewed_at      timestamptz,
	expires_at      timestamptz,
	run_id          bigint,
	last_slot       timestamptz,
	failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
	retry_at        timestamptz,
	last_success_at timestamptz,
	CONSTRAINT job_leases_holder CHECK ((holder_id IS NULL) = (expires_at IS NULL))
);
COMMENT ON TABLE job_leases IS
	'One row per job (by name, shared by every daemon on this database): the daemon holding it now, the schedule slot it last ran, its backoff. Changed only through m2t_lease_claim, the heartbeat and m2t_lease_release.';
COMMENT ON COLUMN job_leases.job IS 'Job name from the configuration (the same on every node).';
COMMENT ON COLUMN job_leases.holder_host IS 'Host name of the daemon holding the lease; NULL when free.';
COMMENT ON COLUMN job_leases.holder_pid IS 'Process id of that daemon on its host.';
COMMENT ON COLUMN job_leases.holder_id IS 'Random id of that daemon process (new at every start): the key of ownership.';
COMMENT ON COLUMN job_leases.acquired_at IS 'When the holder claimed it.';
COMMENT ON COLUMN job_leases.renewed_at IS 'Last heartbeat of the holder.';
COMMENT ON COLUMN job_leases.expires_at IS 'The lease is the holder''s until then; afterwards any daemon may take it over (the holder is presumed dead).';
COMMENT ON COLUMN job_leases.run_id IS 'The job_runs row of the run in progress (no foreign key: old runs may be pruned).';
COMMENT ON COLUMN job_leases.last_slot IS 'Schedule fire time of the last run started; a claim for this slot or an earlier one is refused (unless retrying).';
COMMENT ON COLUMN job_leases.failures IS 'Failed runs in a row; 0 after a run that succeeded.';
COMMENT ON COLUMN job_leases.retry_at IS 'Set after a failed (or stopped) run: the job runs again at this time, not at its schedule; NULL when healthy.';
COMMENT ON COLUMN job_leases.last_success_at IS 'When a run of this job last ended ok.';

ALTER TABLE job_runs
	ADD COLUMN daemon_host text,
	ADD COLUMN daemon_pid integer,
	ADD COLUMN daemon_id text,
	ADD COLUMN slot timestamptz,
	ADD COLUMN error_class text CHECK (error_class IN ('transient', 'message', 'source', 'fatal')),
	DROP CONSTRAINT job_runs_status_check,
	ADD CONSTRAINT job_runs_status_check
		CHECK (status IN ('running', 'ok', 'failed', 'stopped', 'abandoned'));
COMMENT ON COLUMN job_runs.status IS
	'running; ok; failed (see error, error_class); stopped (asked to stop between two messages: shutdown, or the lease was lost; what was committed stays); abandoned (its daemon died: the daemon that took the lease over marked it).';
COMMENT ON COLUMN job_runs.daemon_host IS 'Host of the daemon that ran it; NULL for `mail2ticket run`.';
COMMENT ON COLUMN job_runs.daemon_pid IS 'Process id of that daemon.';
COMMENT ON COLUMN job_runs.daemon_id IS 'Random id of that daemon process (job_leases.holder_id).';
COMMENT ON COLUMN job_runs.slot IS 'The schedule fire time this run was for; NULL for `mail2ticket run`.';
COMMENT ON COLUMN job_runs.error_class IS 'transient (network, database), source (login, mailbox), message, fatal (configuration, bug); NULL when ok.';

-- Times cross the API as whole seconds since 1970 (bigint): slots are whole
-- seconds, and the daemons compute with time_t.
CREATE FUNCTION m2t_epoch(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT floor(extract(epoch FROM t))::bigint
$$;
COMMENT ON FUNCTION m2t_epoch(timestamptz) IS 'Whole seconds since 1970 (NULL for NULL).';

-- Claims job p_job for the schedule slot p_slot (seconds since 1970) for
-- p_ttl_ms. It wins when the lease is free, expired, or left over by the same
-- daemon, AND the slot is due: later than last_slot (healthy job), or, for a
-- job in backoff, retry_at has come (then the same slot may run again).
-- p_force (run every job once, now) skips the slot and backoff test, never
-- the lease. Taking over an expired lease marks the dead holder's run
-- 'abandoned'. One row back: won, and the lease as it is now (the winner's,
-- or what made the claim fail).
CREATE FUNCTION m2t_lease_claim(p_job text, p_slot bigint, p_force boolean, p_host text,
	p_pid integer, p_daemon text, p_ttl_ms bigint)
RETURNS TABLE (r_won boolean, r_holder_host text, r_holder_pid integer, r_holder_id text,
	r_expires_at bigint, r_last_slot bigint, r_failures integer, r_retry_at bigint,
	r_last_success_at bigint)
LANGUAGE plpgsql AS $$
DECLARE
	l     job_leases;
	v_won boolean;
BEGIN
	INSERT INTO job_leases AS j (job) VALUES (p_job) ON CONFLICT (job) DO NOTHING;
	SELECT * INTO l FROM job_leases j WHERE j.job = p_job FOR UPDATE;
	v_won := (l.holder_id IS NULL OR l.expires_at <= now() OR l.holder_id = p_daemon)
		AND (p_force OR CASE WHEN l.retry_at IS NOT NULL
			THEN l.retry_at <= now() AND (l.last_slot IS NULL OR l.last_slot <= to_timestamp(p_slot))
			ELSE l.last_slot IS NULL OR l.last_slot < to_timestamp(p_slot) END);
	IF v_won THEN
		IF l.run_id IS NOT NULL THEN
			UPDATE job_runs r SET status = 'abandoned', finished_at = now(),
			       error = format('daemon %s (pid %s on %s) stopped renewing its lease',
					      l.holder_id, l.holder_pid, l.holder_host)
			 WHERE r.id = l.run_id AND r.status = 'running';
		END IF;
		UPDATE job_leases j SET holder_host = p_host, holder_pid = p_pid, holder_id = p_daemon,
		       acquired_at = now(), renewed_at = now(),
		       expires_at = now() + p_ttl_ms * interval '1 millisecond', run_id = NULL,
		       last_slot = greatest(j.last_slot, to_timestamp(p_slot))
		 WHERE j.job = p_job
		RETURNING * INTO l;
	END IF;
	RETURN QUERY SELECT v_won, l.holder_host, l.holder_pid, l.holder_id, m2t_epoch(l.expires_at),
		m2t_epoch(l.last_slot), l.failures, m2t_epoch(l.retry_at), m2t_epoch(l.last_success_at);
END $$;
COMMENT ON FUNCTION m2t_lease_claim(text, bigint, boolean, text, integer, text, bigint) IS
	'Claims a job''s lease for a schedule slot (see the migration 0005_leases for the rules); returns whether it won and the lease as it is now.';

-- Ends a run: frees the lease (only when p_daemon still holds it), counts a
-- failure or resets the count, sets retry_at (p_retry_ms from now; NULL:
-- none), and completes the run's row with its error class (and an error
-- text job_run could not know, e.g. "the lease was lost"). Returns the
-- failures in a row now, NULL when the lease was no longer p_daemon's.
CREATE FUNCTION m2t_lease_release(p_job text, p_daemon text, p_run_id bigint, p_status text,
	p_error_class text, p_error text, p_retry_ms bigint)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	v_failures integer;
BEGIN
	IF p_run_id IS NOT NULL THEN
		UPDATE job_runs r SET error_class = p_error_class, error = coalesce(r.error, p_error)
		 WHERE r.id = p_run_id;
	END IF;
	UPDATE job_leases j SET holder_host = NULL, holder_pid = NULL, holder_id = NULL,
	       acquired_at = NULL, renewed_at = NULL, expires_at = NULL, run_id = NULL,
	       failures = CASE p_status WHEN 'ok' THEN 0 WHEN 'failed' THEN j.failures + 1
				ELSE j.failures END,
	       retry_at = CASE WHEN p_retry_ms IS NULL THEN NULL
			       ELSE now() + p_retry_ms * interval '1 millisecond' END,
	       last_success_at = CASE WHEN p_status = 'ok' THEN now() ELSE j.last_success_at END
	 WHERE j.job = p_job AND j.holder_id = p_daemon
	RETURNING j.failures INTO v_failures;
	RETURN v_failures;
END $$;
COMMENT ON FUNCTION m2t_lease_release(text, text, bigint, text, text, text, bigint) IS
	'Frees a job''s lease after a run (ok, failed or stopped), with its backoff; returns the failures in a row, NULL when the caller no longer held it.';
