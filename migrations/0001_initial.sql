-- 0001_initial: the help desk's schema (DESIGN.md, decision 6).
--
-- This schema is an API: a help desk front end reads it and reacts to the
-- NOTIFY events on channel mail2ticket_events. Every table and column is
-- documented with COMMENT ON so `\d+` in psql is the reference.
--
-- Forward only: once released this file is never edited; changes come as
-- new migrations. The runner (storage/store_migrate.c) applies it in one
-- transaction and records it in schema_migrations.
--
-- Times are timestamptz (stored as UTC instants).
--
-- Scale: tickets and processed_messages carry `account` so they can later be
-- partitioned (or distributed, e.g. Citus) by account. Unique keys that a
-- partitioned table would need to extend with `account` are noted below.
--
-- Lock order (several daemons share one database). m2t_ingest_batch() stores
-- a whole batch of messages with one statement per table and takes its locks
-- in this order, always:
--   0. tickets to append to, FOR KEY SHARE, by id (they cannot vanish meanwhile)
--   1. processed_messages unique keys (identity; the ON CONFLICT probe, in
--      batch order; waits for a concurrent writer of the same identity)
--   2. ticket_counters row of the UTC day (one upsert reserving k numbers)
--   3. contacts, sorted by email (new rows; a changed name updates its row)
--   4. tickets (new rows; appended tickets: updated_at), articles
--   5. attachment_contents keys sorted by sha256 (ON CONFLICT (sha256)),
--      attachments, raw_messages
-- Two daemons taking the same locks take them in the same order, so they
-- wait rather than deadlock; what remains (two batches naming the same two
-- identities in opposite orders, or renaming the same two contacts)
-- PostgreSQL detects and aborts one transaction with SQLSTATE 40P01: the
-- storage layer reports it as transient, the batch is retried, and the
-- identity rows make the retry safe. The day counter row is held until
-- COMMIT, so ticket creation is serialised across daemons for the length of
-- one batch: keep batches short (a few hundred messages), not minutes long.
--
-- Foreign keys are checked immediately (the inserts come parent first),
-- except processed_messages.ticket_id / article_id: the identity row is
-- written first, complete, with the ids its ticket and article are about to
-- get (so it is never updated), and those two are checked at COMMIT.
--
-- Compression: bulky columns (raw mail, bodies, attachment bytes) use lz4
-- when the server was built with it (far cheaper than pglz for about the
-- same ratio on mail); otherwise the default, pglz.

CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schema_migrations IS
	'Migrations applied to this database, one row each; the binary refuses a database whose newest version it does not know.';
COMMENT ON COLUMN schema_migrations.version IS 'NNNN of migrations/NNNN_name.sql.';
COMMENT ON COLUMN schema_migrations.name IS 'File name without .sql, e.g. 0001_initial.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was committed.';

-- ---------------------------------------------------------------- checks
-- A sha256 in hex: 64 lower-case hex digits. Not the regex
-- '^[0-9a-f]{64}$': PostgreSQL's regex engine took ~5 µs per row for it (the
-- bounded repetition), a measurable share of storing a mail; this takes
-- ~0.2 µs. decode() skips white space (the lengths then disagree) and
-- raises an error (SQLSTATE 22023) at any other non-hex character, so
-- every other value is refused too, some by that error instead of a CHECK
-- violation (the storage layer checks the format before sending anyway).
-- Plain SQL, not STRICT: it is inlined into the CHECK.
CREATE FUNCTION m2t_sha256_ok(p text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT octet_length(p) = 64 AND p = lower(p) AND octet_length(decode(p, 'hex')) = 32
$$;
COMMENT ON FUNCTION m2t_sha256_ok(text) IS
	'True when p is 64 lower-case hex digits (a sha256), NULL for NULL; the CHECK of every sha256 column.';

-- ---------------------------------------------------------------- job runs
CREATE TABLE job_runs (
	id           bigserial PRIMARY KEY,
	job          text NOT NULL,
	account      text NOT NULL,
	mailbox      text NOT NULL,
	started_at   timestamptz NOT NULL DEFAULT now(),
	finished_at  timestamptz,
	status       text NOT NULL DEFAULT 'running'
	             CHECK (status IN ('running', 'ok', 'failed')),
	fetched      bigint NOT NULL DEFAULT 0,
	tickets      bigint NOT NULL DEFAULT 0,
	appended     bigint NOT NULL DEFAULT 0,
	ignored      bigint NOT NULL DEFAULT 0,
	badmail      bigint NOT NULL DEFAULT 0,
	already_done bigint NOT NULL DEFAULT 0,
	bytes        bigint NOT NULL DEFAULT 0,
	error        text
);
CREATE INDEX job_runs_job_started ON job_runs (job, started_at);
COMMENT ON TABLE job_runs IS
	'One row per run of a fetch job: when, how it ended and what it did. Its messages are processed_messages.job_run_id.';
COMMENT ON COLUMN job_runs.job IS 'Job name from the configuration.';
COMMENT ON COLUMN job_runs.account IS 'Account name from the configuration.';
COMMENT ON COLUMN job_runs.mailbox IS 'Source mailbox (IMAP folder, maildir path, "stdin").';
COMMENT ON COLUMN job_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN job_runs.finished_at IS 'When the run ended; NULL while running (or if the process died).';
COMMENT ON COLUMN job_runs.status IS 'running, ok, or failed (see error).';
COMMENT ON COLUMN job_runs.fetched IS 'Messages fetched from the source.';
COMMENT ON COLUMN job_runs.tickets IS 'Messages that created a ticket.';
COMMENT ON COLUMN job_runs.appended IS 'Messages appended to an existing ticket.';
COMMENT ON COLUMN job_runs.ignored IS 'Messages archived without a ticket.';
COMMENT ON COLUMN job_runs.badmail IS 'Messages moved to badmail (reason in processed_messages).';
COMMENT ON COLUMN job_runs.already_done IS 'Messages found already processed (only disposed again).';
COMMENT ON COLUMN job_runs.bytes IS 'Raw bytes fetched.';
COMMENT ON COLUMN job_runs.error IS 'Why the run failed; NULL when ok.';

-- ---------------------------------------------------------------- contacts
CREATE TABLE contacts (
	id         bigserial PRIMARY KEY,
	email      text NOT NULL UNIQUE CHECK (email = lower(email)),
	name       text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE contacts IS
	'People who wrote to the help desk, one per address; upserted by every incoming mail.';
COMMENT ON COLUMN contacts.email IS 'The address in lower case: the key (addresses compare case-insensitively here).';
COMMENT ON COLUMN contacts.name IS 'Latest non-empty display name seen; '''' when none.';
COMMENT ON COLUMN contacts.created_at IS 'First mail seen from this address.';
COMMENT ON COLUMN contacts.updated_at IS 'Last time the name changed.';

-- ---------------------------------------------------------------- tickets
CREATE TABLE ticket_counters (
	day  date PRIMARY KEY,
	last integer NOT NULL
);
COMMENT ON TABLE ticket_counters IS
	'Per-day (UTC) counter behind tickets.number; the row is locked until the creating transaction ends, so numbers have no gaps and a rolled-back test run gives its number back.';
COMMENT ON COLUMN ticket_counters.day IS 'UTC day.';
COMMENT ON COLUMN ticket_counters.last IS 'Last number handed out that day.';

CREATE TABLE tickets (
	id           bigserial PRIMARY KEY,
	number       text NOT NULL UNIQUE,
	account      text NOT NULL,
	subject      text NOT NULL,
	status       text NOT NULL DEFAULT 'new',
	queue        text NOT NULL DEFAULT 'default',
	priority     text NOT NULL DEFAULT 'normal',
	requester_id bigint REFERENCES contacts (id),
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_requester ON tickets (requester_id);
CREATE INDEX tickets_account_created ON tickets (account, created_at);
COMMENT ON TABLE tickets IS
	'Help desk tickets. Created by mail (m2t_ingest_batch) or by the front end; NOTIFY mail2ticket_events {"event":"ticket_created"} on insert.';
COMMENT ON COLUMN tickets.id IS 'Internal key; use it for references between tables.';
COMMENT ON COLUMN tickets.number IS 'Human ticket number: YYYYMMDD (UTC) + per-day counter, at least 5 digits, e.g. 2026112100001. Unique (a partitioned table would need (account, number)).';
COMMENT ON COLUMN tickets.account IS 'Account the first mail came in on; the future partitioning key.';
COMMENT ON COLUMN tickets.subject IS 'Ticket subject (from the rules, by default the first mail''s subject).';
COMMENT ON COLUMN tickets.status IS 'Workflow state, free text owned by the help desk (mail sets ''new'' by default).';
COMMENT ON COLUMN tickets.queue IS 'Queue the ticket belongs to.';
COMMENT ON COLUMN tickets.priority IS 'Priority name.';
COMMENT ON COLUMN tickets.requester_id IS 'The customer (Reply-To or From of the first mail); NULL when the mail had no address.';
COMMENT ON COLUMN tickets.created_at IS 'When the ticket was created.';
COMMENT ON COLUMN tickets.updated_at IS 'Last change, including a mail appended to it.';

-- ---------------------------------------------------------------- processed messages
CREATE TABLE processed_messages (
	id           bigserial PRIMARY KEY,
	account      text NOT NULL,
	mailbox      text NOT NULL,
	uidvalidity  bigint CHECK (uidvalidity BETWEEN 0 AND 4294967295),
	uid          bigint CHECK (uid BETWEEN 0 AND 4294967295),
	uidl         text,
	message_id   text,
	-- 64 lower-case hex digits (m2t_sha256_ok() says why not a regex).
	sha256       text CHECK (m2t_sha256_ok(sha256)),
	size         bigint NOT NULL DEFAULT 0,
	outcome      text NOT NULL CHECK (outcome IN ('ticket', 'appended', 'ignored', 'badmail')),
	-- Deferred: m2t_ingest_batch writes this row first, with the ids the
	-- ticket and article are about to get, so it never has to update it.
	ticket_id    bigint REFERENCES tickets (id) DEFERRABLE INITIALLY DEFERRED,
	article_id   bigint,
	reason       text,
	job_run_id   bigint REFERENCES job_runs (id),
	processed_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT processed_messages_identity UNIQUE (account, mailbox, uidvalidity, uid),
	CONSTRAINT processed_messages_has_identity
		CHECK ((uidvalidity IS NOT NULL AND uid IS NOT NULL) OR uidl IS NOT NULL)
);
-- A UIDVALIDITY change renumbers every mail; this key still knows them.
CREATE UNIQUE INDEX processed_messages_content
	ON processed_messages (account, coalesce(message_id, ''), sha256)
	WHERE sha256 IS NOT NULL;
CREATE UNIQUE INDEX processed_messages_uidl
	ON processed_messages (account, uidl) WHERE uidl IS NOT NULL;
CREATE INDEX processed_messages_job_run ON processed_messages (job_run_id);
CREATE INDEX processed_messages_ticket ON processed_messages (ticket_id);
COMMENT ON TABLE processed_messages IS
	'Every message the fetcher decided on, once (effectively-once delivery): what happened and why. The badmail list is WHERE outcome = ''badmail''.';
COMMENT ON COLUMN processed_messages.account IS 'Account name from the configuration.';
COMMENT ON COLUMN processed_messages.mailbox IS 'Source mailbox the message was in.';
COMMENT ON COLUMN processed_messages.uidvalidity IS 'IMAP UIDVALIDITY of the mailbox at the time (maildir/stdin: 0).';
COMMENT ON COLUMN processed_messages.uid IS 'IMAP UID (with uidvalidity and mailbox the identity of the message).';
COMMENT ON COLUMN processed_messages.uidl IS 'POP3 UIDL, the identity for POP3 sources; NULL otherwise.';
COMMENT ON COLUMN processed_messages.message_id IS 'Message-ID header without <>, NULL when missing.';
COMMENT ON COLUMN processed_messages.sha256 IS 'Hex sha256 of the raw message; with account and Message-ID a second identity that survives a UIDVALIDITY change. NULL when never fetched.';
COMMENT ON COLUMN processed_messages.size IS 'Raw size in bytes (as fetched or announced).';
COMMENT ON COLUMN processed_messages.outcome IS 'ticket (created one), appended (to ticket_id), ignored (archived), badmail (see reason).';
COMMENT ON COLUMN processed_messages.ticket_id IS 'Ticket created or appended to; NULL for ignored and badmail.';
COMMENT ON COLUMN processed_messages.article_id IS 'Article made from this message; NULL for ignored and badmail.';
COMMENT ON COLUMN processed_messages.reason IS 'Why: the rule or the error (badmail reasons are shown to admins).';
COMMENT ON COLUMN processed_messages.job_run_id IS 'The job run that processed it; NULL when processed outside a run.';
COMMENT ON COLUMN processed_messages.processed_at IS 'When the decision was stored (transaction time).';

CREATE TABLE raw_messages (
	processed_message_id bigint PRIMARY KEY REFERENCES processed_messages (id) ON DELETE CASCADE,
	raw                  bytea NOT NULL,
	stored_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE raw_messages IS
	'The raw bytes of each processed message, for audit and reprocessing; may be purged or moved to another table space independently.';
COMMENT ON COLUMN raw_messages.processed_message_id IS 'The processed_messages row this is the source of.';
COMMENT ON COLUMN raw_messages.raw IS 'The message exactly as fetched (RFC 5322 bytes).';
COMMENT ON COLUMN raw_messages.stored_at IS 'When it was stored.';

-- ---------------------------------------------------------------- articles
CREATE TABLE articles (
	id                   bigserial PRIMARY KEY,
	ticket_id            bigint NOT NULL REFERENCES tickets (id),
	processed_message_id bigint REFERENCES processed_messages (id),
	kind                 text NOT NULL DEFAULT 'customer' CHECK (kind IN ('customer', 'agent', 'note', 'system')),
	message_id           text,
	in_reply_to          text,
	message_references   text,
	from_name            text NOT NULL DEFAULT '',
	from_email           text NOT NULL DEFAULT '',
	to_addrs             jsonb NOT NULL DEFAULT '[]',
	cc_addrs             jsonb NOT NULL DEFAULT '[]',
	subject              text NOT NULL DEFAULT '',
	body_text            text NOT NULL DEFAULT '',
	body_html            text,
	sent_at              timestamptz,
	received_at          timestamptz NOT NULL DEFAULT now(),
	size                 bigint NOT NULL DEFAULT 0
);
ALTER TABLE processed_messages
	ADD CONSTRAINT processed_messages_article_fk FOREIGN KEY (article_id) REFERENCES articles (id)
	DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX articles_ticket ON articles (ticket_id, id);
CREATE INDEX articles_message_id ON articles (message_id) WHERE message_id IS NOT NULL;
COMMENT ON TABLE articles IS
	'The entries of a ticket: one per mail (kind customer), later agent replies and notes. NOTIFY mail2ticket_events {"event":"article_added"} on insert.';
COMMENT ON COLUMN articles.ticket_id IS 'The ticket this article belongs to.';
COMMENT ON COLUMN articles.processed_message_id IS 'The mail it was made from; NULL for articles not from mail.';
COMMENT ON COLUMN articles.kind IS 'customer (incoming mail), agent, note, system.';
COMMENT ON COLUMN articles.message_id IS 'Message-ID without <>; threading looks replies up by it.';
COMMENT ON COLUMN articles.in_reply_to IS 'First msg-id of In-Reply-To, without <>.';
COMMENT ON COLUMN articles.message_references IS 'References header as written (msg-ids separated by spaces).';
COMMENT ON COLUMN articles.from_name IS 'Decoded display name of From; '''' when none.';
COMMENT ON COLUMN articles.from_email IS 'Address of From as written; '''' when none.';
COMMENT ON COLUMN articles.to_addrs IS 'To as a JSON array of {"name": ..., "email": ...}, in header order.';
COMMENT ON COLUMN articles.cc_addrs IS 'Cc as a JSON array of {"name": ..., "email": ...}, in header order.';
COMMENT ON COLUMN articles.subject IS 'Decoded Subject of the mail.';
COMMENT ON COLUMN articles.body_text IS 'Body as text (text/plain, else the HTML turned into text), after preprocessing.';
COMMENT ON COLUMN articles.body_html IS 'HTML body as sent, NULL when none.';
COMMENT ON COLUMN articles.sent_at IS 'Date header; NULL when missing or unparsable.';
COMMENT ON COLUMN articles.received_at IS 'When mail2ticket stored it.';
COMMENT ON COLUMN articles.size IS 'Raw size of the mail in bytes.';

-- ---------------------------------------------------------------- attachments
CREATE TABLE attachment_contents (
	sha256     text PRIMARY KEY CHECK (m2t_sha256_ok(sha256)),
	size       bigint NOT NULL,
	content    bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE attachment_contents IS
	'Attachment bytes, stored once per distinct content however many mails carry it.';
COMMENT ON COLUMN attachment_contents.sha256 IS 'Hex sha256 of content: the key.';
COMMENT ON COLUMN attachment_contents.size IS 'Length of content in bytes.';
COMMENT ON COLUMN attachment_contents.content IS 'The decoded bytes.';
COMMENT ON COLUMN attachment_contents.created_at IS 'When these bytes were first seen.';

CREATE TABLE attachments (
	id           bigserial PRIMARY KEY,
	article_id   bigint NOT NULL REFERENCES articles (id),
	sha256       text NOT NULL REFERENCES attachment_contents (sha256),
	filename     text NOT NULL DEFAULT '',
	content_type text NOT NULL DEFAULT 'application/octet-stream',
	content_id   text,
	is_inline    boolean NOT NULL DEFAULT false,
	position     integer NOT NULL DEFAULT 0
);
CREATE INDEX attachments_article ON attachments (article_id, position);
CREATE INDEX attachments_sha256 ON attachments (sha256);
COMMENT ON TABLE attachments IS 'Files attached to an article; the bytes are in attachment_contents.';
COMMENT ON COLUMN attachments.article_id IS 'The article carrying it.';
COMMENT ON COLUMN attachments.sha256 IS 'Key of the bytes in attachment_contents.';
COMMENT ON COLUMN attachments.filename IS 'Decoded file name; '''' when none.';
COMMENT ON COLUMN attachments.content_type IS 'MIME type in lower case, e.g. image/png.';
COMMENT ON COLUMN attachments.content_id IS 'Content-ID without <> (for cid: references in body_html); NULL when none.';
COMMENT ON COLUMN attachments.is_inline IS 'Shown inline (Content-Disposition: inline, or referenced by cid:).';
COMMENT ON COLUMN attachments.position IS 'Order within the mail, from 0.';

-- ---------------------------------------------------------------- mailbox state
CREATE TABLE mailbox_state (
	account     text NOT NULL,
	mailbox     text NOT NULL,
	uidvalidity bigint NOT NULL CHECK (uidvalidity BETWEEN 0 AND 4294967295),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account, mailbox)
);
COMMENT ON TABLE mailbox_state IS
	'Last UIDVALIDITY seen per mailbox, to notice (and log) when the server renumbered it.';
COMMENT ON COLUMN mailbox_state.account IS 'Account name from the configuration.';
COMMENT ON COLUMN mailbox_state.mailbox IS 'Mailbox name.';
COMMENT ON COLUMN mailbox_state.uidvalidity IS 'UIDVALIDITY seen at the last run.';
COMMENT ON COLUMN mailbox_state.updated_at IS 'When it was last seen to change (or first seen).';

-- ---------------------------------------------------------------- compression
-- lz4 where the server has it (PostgreSQL 14+ built --with-lz4), silently
-- pglz otherwise. Only new values are affected, so this belongs here, before
-- any row exists.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings
		    WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE raw_messages ALTER COLUMN raw SET COMPRESSION lz4;
		ALTER TABLE articles ALTER COLUMN body_text SET COMPRESSION lz4,
			ALTER COLUMN body_html SET COMPRESSION lz4;
		ALTER TABLE attachment_contents ALTER COLUMN content SET COMPRESSION lz4;
	END IF;
END $$;
-- A typical mail compresses to a few KB: keep such rows whole on the heap
-- page instead of cutting them into TOAST chunks (each chunk is a row and an
-- index entry of its own); only really large values move out of line.
ALTER TABLE raw_messages SET (toast_tuple_target = 8160);
ALTER TABLE articles SET (toast_tuple_target = 8160);

-- ---------------------------------------------------------------- events
-- Triggers, not code in m2t_ingest_batch, so tickets and articles written by
-- the front end announce themselves the same way. Statement-level with a
-- transition table: one trigger call per INSERT statement however many rows
-- (a batch of mails is one statement), one pg_notify per row, in id order.
-- pg_notify is transactional: listeners hear nothing from a transaction that
-- rolls back.
CREATE FUNCTION m2t_notify_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'ticket_created', 'ticket_id', n.id, 'number', n.number)::text)
	   FROM m2t_new_tickets n ORDER BY n.id;
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_ticket() IS
	'NOTIFY mail2ticket_events {"event":"ticket_created","ticket_id":…,"number":…}, one per inserted ticket.';
CREATE TRIGGER tickets_notify AFTER INSERT ON tickets
	REFERENCING NEW TABLE AS m2t_new_tickets
	FOR EACH STATEMENT EXECUTE FUNCTION m2t_notify_ticket();

CREATE FUNCTION m2t_notify_article() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'article_added', 'ticket_id', n.ticket_id, 'article_id', n.id,
		'kind', n.kind)::text)
	   FROM m2t_new_articles n ORDER BY n.id;
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_article() IS
	'NOTIFY mail2ticket_events {"event":"article_added","ticket_id":…,"article_id":…,"kind":…}, one per inserted article.';
CREATE TRIGGER articles_notify AFTER INSERT ON articles
	REFERENCING NEW TABLE AS m2t_new_articles
	FOR EACH STATEMENT EXECUTE FUNCTION m2t_notify_article();

-- ---------------------------------------------------------------- ticket numbers
-- The next number of today (UTC). The counter row stays locked until the
-- caller's transaction ends: concurrent creators wait instead of colliding,
-- and a rollback hands the number back (no gaps).
CREATE FUNCTION m2t_ticket_number(p_day date, p_n integer) RETURNS text
LANGUAGE sql STABLE AS $$
	-- STABLE (to_char of a date is: it goes through timestamptz) and not
	-- STRICT (the body is not provably strict): both are what lets the planner
	-- inline it into m2t_ingest_batch instead of a function call per ticket
	-- (measured: ~1 µs each). NULL arguments still give NULL.
	-- lpad would cut a sixth digit; past 99999 a day the number just grows.
	SELECT to_char(p_day, 'YYYYMMDD') ||
	       CASE WHEN p_n <= 99999 THEN lpad(p_n::text, 5, '0') ELSE p_n::text END
$$;
COMMENT ON FUNCTION m2t_ticket_number(date, integer) IS
	'Formats the p_n-th ticket number of UTC day p_day, e.g. 2026112100001.';

CREATE FUNCTION m2t_next_ticket_number() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d date := (now() AT TIME ZONE 'UTC')::date;
	n integer;
BEGIN
	INSERT INTO ticket_counters AS c (day, last) VALUES (d, 1)
	ON CONFLICT (day) DO UPDATE SET last = c.last + 1
	RETURNING c.last INTO n;
	RETURN m2t_ticket_number(d, n);
END $$;
COMMENT ON FUNCTION m2t_next_ticket_number() IS
	'Hands out the next human ticket number of the UTC day, e.g. 2026112100001; locks that day''s ticket_counters row until commit.';

-- ---------------------------------------------------------------- ingest
-- A batch of messages in one call, one statement per table for the whole
-- batch (not ~10 statements per message): the executor starts once per
-- table, and triggers fire once per statement.
--
-- Arguments are parallel arrays, one element per message (its position, from
-- 1, is `idx` in the result); To/Cc addresses and attachments are flattened
-- into arrays of their own whose *_msg column holds the message's idx.
--
-- Identity first: the processed_messages rows are inserted with ON CONFLICT
-- DO NOTHING (on any of their unique keys), in batch order, so a message
-- seen before, in an earlier transaction or earlier in this very batch
-- (same UID, or same Message-ID + sha256), writes nothing else and reports
-- already_done with the outcome stored for the first one; no unique
-- violation ever aborts the caller's transaction.
CREATE FUNCTION m2t_ingest_batch(
	p_job_run_id      bigint[],
	p_account         text[],
	p_mailbox         text[],
	p_uidvalidity     bigint[],
	p_uid             bigint[],
	p_message_id      text[],
	p_sha256          text[],
	p_size            bigint[],
	p_outcome         text[],
	p_reason          text[],
	p_raw             bytea[],
	p_ticket_id       bigint[],
	p_subject         text[],
	p_queue           text[],
	p_priority        text[],
	p_status          text[],
	p_requester_name  text[],
	p_requester_email text[],
	p_in_reply_to     text[],
	p_references      text[],
	p_from_name       text[],
	p_from_email      text[],
	p_article_subject text[],
	p_body_text       text[],
	p_body_html       text[],
	p_sent_at         bigint[],
	p_addr_msg        integer[],
	p_addr_cc         boolean[],
	p_addr_name       text[],
	p_addr_email      text[],
	p_att_msg         integer[],
	p_att_filename    text[],
	p_att_type        text[],
	p_att_cid         text[],
	p_att_inline      boolean[],
	p_att_sha256      text[],
	p_att_content     bytea[])
RETURNS TABLE (idx integer, already_done boolean, outcome text, ticket_id bigint,
	ticket_number text, article_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_day   date := (now() AT TIME ZONE 'UTC')::date;
	v_found bigint[] := '{}';  -- append targets that exist (locked)
	-- The messages stored now (identity won), parallel arrays in batch order:
	v_idx   integer[];         -- idx
	v_pm    bigint[];          -- processed_messages.id
	v_tid   bigint[];          -- ticket id (new, or appended to)
	v_aid   bigint[];          -- article id; NULL for ignored / badmail
	v_out   text[];            -- outcome stored
	v_k     integer;           -- new tickets among them
	v_last  integer;           -- ticket_counters.last after reserving v_k
BEGIN
	-- 0. Append targets: which exist. FOR KEY SHARE keeps them from being
	-- deleted before our articles reference them; an append whose ticket is
	-- gone becomes a new ticket rather than an error aborting the batch.
	IF 'appended' = ANY (p_outcome) THEN
		SELECT coalesce(array_agg(s.id), '{}') INTO v_found
		  FROM (SELECT t.id FROM tickets t WHERE t.id = ANY (p_ticket_id)
			 ORDER BY t.id FOR KEY SHARE) s;
	END IF;

	-- 1. Identity rows, complete: ids come from the sequences up front (a
	-- message found already done just leaves gaps in them).
	WITH b AS MATERIALIZED (
		SELECT u.i::integer AS i, u.acc, u.mbox, u.uv, u.uid, u.mid, u.sha, u.sz, u.jr,
		       u.rs, u.tt, u.o AS asked,
		       CASE WHEN u.o = 'appended' AND NOT coalesce(u.tt = ANY (v_found), false)
			    THEN 'ticket' ELSE u.o END AS o
		  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256,
			      p_size, p_job_run_id, p_reason, p_ticket_id, p_outcome)
		       WITH ORDINALITY AS u(acc, mbox, uv, uid, mid, sha, sz, jr, rs, tt, o, i)
	), ids AS MATERIALIZED (
		SELECT b.*, nextval('processed_messages_id_seq') AS pm_id,
		       CASE WHEN b.o = 'ticket' THEN nextval('tickets_id_seq')
			    WHEN b.o = 'appended' THEN b.tt END AS tid,
		       CASE WHEN b.o IN ('ticket', 'appended') THEN nextval('articles_id_seq') END AS aid,
		       CASE WHEN b.o IS DISTINCT FROM b.asked THEN concat_ws('; ', b.rs,
				format('ticket id %s to append to not found: new ticket', b.tt))
			    ELSE b.rs END AS why
		  FROM b
	), ins AS (
		INSERT INTO processed_messages AS pm (id, account, mailbox, uidvalidity, uid,
			message_id, sha256, size, outcome, reason, job_run_id, ticket_id, article_id)
		SELECT ids.pm_id, ids.acc, ids.mbox, ids.uv, ids.uid, ids.mid, ids.sha,
		       coalesce(ids.sz, 0), ids.o, ids.why, ids.jr, ids.tid, ids.aid
		  FROM ids ORDER BY ids.i
		ON CONFLICT DO NOTHING
		RETURNING pm.id
	)
	SELECT array_agg(ids.i ORDER BY ids.i), array_agg(ids.pm_id ORDER BY ids.i),
	       array_agg(ids.tid ORDER BY ids.i), array_agg(ids.aid ORDER BY ids.i),
	       array_agg(ids.o ORDER BY ids.i)
	  INTO v_idx, v_pm, v_tid, v_aid, v_out
	  FROM ids JOIN ins ON ins.id = ids.pm_id;

	IF v_idx IS NOT NULL THEN
		-- 2. k ticket numbers of the day at once; the row stays locked until
		-- the transaction ends (no gaps, a rollback gives them back).
		SELECT count(*) INTO v_k FROM unnest(v_out) AS o(o) WHERE o.o = 'ticket';
		IF v_k > 0 THEN
			INSERT INTO ticket_counters AS c (day, last) VALUES (v_day, v_k)
			ON CONFLICT (day) DO UPDATE SET last = c.last + excluded.last
			RETURNING c.last INTO v_last;
		END IF;

		-- 3. Requesters, once per distinct address, sorted (lock order).
		-- DO NOTHING leaves existing rows unlocked; only a changed name
		-- (the batch's last non-empty one) writes a new row version.
		WITH r AS (
			SELECT lower(btrim(m.em)) AS e,
			       coalesce((array_agg(m.nm ORDER BY n.i DESC)
					 FILTER (WHERE m.nm <> ''))[1], '') AS nm
			  FROM unnest(v_idx, v_out) AS n(i, o)
			  JOIN unnest(p_requester_email, p_requester_name) WITH ORDINALITY
			       AS m(em, nm, i) ON m.i = n.i
			 WHERE n.o IN ('ticket', 'appended') AND btrim(coalesce(m.em, '')) <> ''
			 GROUP BY 1
		), ins AS (
			INSERT INTO contacts AS c (email, name)
			SELECT r.e, r.nm FROM r ORDER BY r.e
			ON CONFLICT (email) DO NOTHING
			RETURNING c.email
		)
		UPDATE contacts c SET name = r.nm, updated_at = now()
		  FROM r
		 WHERE c.email = r.e AND r.nm <> '' AND c.name IS DISTINCT FROM r.nm
		   AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.email = r.e);

		-- 4. Tickets (numbered in batch order), appended tickets' updated_at,
		-- then the articles, parents before children: the foreign keys are
		-- checked at the end of each statement and find their rows.
		IF v_k > 0 THEN
			INSERT INTO tickets AS t (id, number, account, subject, status, queue,
				priority, requester_id)
			SELECT n.tid, m2t_ticket_number(v_day, v_last - v_k
					+ (row_number() OVER (ORDER BY n.i))::integer),
			       m.acc, coalesce(m.subj, ''), coalesce(m.st, 'new'),
			       coalesce(m.qu, 'default'), coalesce(m.pr, 'normal'), c.id
			  FROM unnest(v_idx, v_tid, v_out) AS n(i, tid, o)
			  JOIN unnest(p_account, p_subject, p_status, p_queue, p_priority,
				      p_requester_email) WITH ORDINALITY
			       AS m(acc, subj, st, qu, pr, em, i) ON m.i = n.i
			  LEFT JOIN contacts c ON c.email = lower(btrim(m.em))
			 WHERE n.o = 'ticket'
			 ORDER BY n.i;
		END IF;
		IF 'appended' = ANY (v_out) THEN
			UPDATE tickets t SET updated_at = now()
			 WHERE t.id IN (SELECT n.tid FROM unnest(v_tid, v_out) AS n(tid, o)
					 WHERE n.o = 'appended');
		END IF;

		IF v_aid IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(v_aid) a WHERE a IS NOT NULL) THEN
			INSERT INTO articles AS a (id, ticket_id, processed_message_id, kind, message_id,
				in_reply_to, message_references, from_name, from_email, to_addrs,
				cc_addrs, subject, body_text, body_html, sent_at, size)
			SELECT n.aid, n.tid, n.pm, 'customer', m.mid, m.irt, m.refs,
			       coalesce(m.fn, ''), coalesce(m.fe, ''),
			       coalesce(ad.to_addrs, '[]'), coalesce(ad.cc_addrs, '[]'),
			       coalesce(m.subj, ''), coalesce(m.txt, ''), m.html,
			       CASE WHEN m.sent IS NULL THEN NULL ELSE to_timestamp(m.sent) END,
			       coalesce(m.sz, 0)
			  FROM unnest(v_idx, v_pm, v_tid, v_aid) AS n(i, pm, tid, aid)
			  JOIN unnest(p_message_id, p_in_reply_to, p_references, p_from_name,
				      p_from_email, p_article_subject, p_body_text, p_body_html,
				      p_sent_at, p_size) WITH ORDINALITY
			       AS m(mid, irt, refs, fn, fe, subj, txt, html, sent, sz, i) ON m.i = n.i
			  LEFT JOIN (
				SELECT x.msg,
				       jsonb_agg(jsonb_build_object('name', x.nm, 'email', x.em) ORDER BY x.j)
					   FILTER (WHERE NOT x.cc) AS to_addrs,
				       jsonb_agg(jsonb_build_object('name', x.nm, 'email', x.em) ORDER BY x.j)
					   FILTER (WHERE x.cc) AS cc_addrs
				  FROM unnest(p_addr_msg, p_addr_cc, p_addr_name, p_addr_email)
				       WITH ORDINALITY AS x(msg, cc, nm, em, j)
				 GROUP BY x.msg) ad ON ad.msg = n.i
			 WHERE n.aid IS NOT NULL
			 ORDER BY n.i;

			-- 5. Attachment bytes once per sha256, also when two messages of the
			-- batch carry them; sorted (lock order).
			IF coalesce(cardinality(p_att_msg), 0) > 0 THEN
				INSERT INTO attachment_contents (sha256, size, content)
				SELECT DISTINCT ON (x.s) x.s, octet_length(x.c), x.c
				  FROM unnest(p_att_msg, p_att_sha256, p_att_content) AS x(msg, s, c)
				  JOIN unnest(v_idx, v_aid) AS n(i, aid) ON n.i = x.msg
				 WHERE n.aid IS NOT NULL
				 ORDER BY x.s
				ON CONFLICT (sha256) DO NOTHING;

				INSERT INTO attachments (article_id, sha256, filename, content_type,
					content_id, is_inline, position)
				SELECT n.aid, x.s, coalesce(x.f, ''),
				       coalesce(x.ct, 'application/octet-stream'), x.cid,
				       coalesce(x.inl, false),
				       (row_number() OVER (PARTITION BY x.msg ORDER BY x.j) - 1)::integer
				  FROM unnest(p_att_msg, p_att_sha256, p_att_filename, p_att_type,
					      p_att_cid, p_att_inline) WITH ORDINALITY
				       AS x(msg, s, f, ct, cid, inl, j)
				  JOIN unnest(v_idx, v_aid) AS n(i, aid) ON n.i = x.msg
				 WHERE n.aid IS NOT NULL
				 ORDER BY x.j;
			END IF;
		END IF;

		-- 6. Raw bytes of every message stored now (badmail and ignored too).
		INSERT INTO raw_messages (processed_message_id, raw)
		SELECT n.pm, r.raw
		  FROM unnest(v_idx, v_pm) AS n(i, pm)
		  JOIN unnest(p_raw) WITH ORDINALITY AS r(raw, i) ON r.i = n.i
		 WHERE r.raw IS NOT NULL;
	END IF;

	-- 7. One row per message. The others are looked up with this statement's
	-- fresh snapshot, which sees a concurrent writer we waited for in step 1
	-- and the rows stored earlier in this batch. A row found by neither key
	-- (it vanished meanwhile) has outcome NULL: the caller retries the batch.
	RETURN QUERY
	SELECT q.i::integer, n.i IS NULL, coalesce(n.o, e.outcome),
	       coalesce(n.tid, e.ticket_id), t.number, coalesce(n.aid, e.article_id)
	  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256)
	       WITH ORDINALITY AS q(acc, mbox, uv, uid, mid, sha, i)
	  LEFT JOIN unnest(v_idx, v_tid, v_aid, v_out) AS n(i, tid, aid, o) ON n.i = q.i
	  LEFT JOIN LATERAL (
		SELECT pm.outcome, pm.ticket_id, pm.article_id
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND pm.account = q.acc AND pm.mailbox = q.mbox
		   AND pm.uidvalidity = q.uv AND pm.uid = q.uid
		UNION ALL
		SELECT pm.outcome, pm.ticket_id, pm.article_id
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND q.sha IS NOT NULL AND pm.account = q.acc
		   AND coalesce(pm.message_id, '') = coalesce(q.mid, '') AND pm.sha256 = q.sha
		LIMIT 1) e ON true
	  LEFT JOIN tickets t ON t.id = coalesce(n.tid, e.ticket_id)
	 ORDER BY q.i;
END $$;
COMMENT ON FUNCTION m2t_ingest_batch(bigint[], text[], text[], bigint[], bigint[], text[], text[],
	bigint[], text[], text[], bytea[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], text[], text[], text[], text[], bigint[], integer[], boolean[], text[],
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[]) IS
	'Stores a batch of messages in the caller''s transaction (one call): identity rows, ticket numbers, contacts, tickets or appends, articles, attachments, raw bytes; one result row per message (idx from 1). A message whose identity (account, mailbox, uidvalidity, uid) or (account, Message-ID, sha256) exists, also earlier in the same batch, writes nothing and returns already_done with the stored outcome.';
