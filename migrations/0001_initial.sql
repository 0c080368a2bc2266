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
-- Lock order (several daemons share one database). m2t_ingest() takes its
-- locks in this order, always:
--   1. processed_messages unique keys (identity; the ON CONFLICT probe)
--   2. contacts row of the requester (upsert)
--   3. ticket_counters row of the day (new tickets only)
--   4. tickets row (insert, or the appended ticket's row: updated_at)
--   5. articles, attachment_contents keys (ON CONFLICT (sha256)), attachments
--   6. raw_messages (the processed_messages row is written once, in step 1,
--      with pre-allocated ticket and article ids; its foreign keys to
--      tickets and articles are therefore checked at COMMIT)
-- Within one message this order cannot deadlock with another message's.
-- Across a batch (several messages in one transaction) two daemons can still
-- meet in opposite orders (e.g. daemon A holds contact X and wants the day
-- counter, daemon B holds the counter and wants contact X). PostgreSQL
-- detects that and aborts one transaction with SQLSTATE 40P01; the storage
-- layer reports it as transient and the batch is retried; the identity rows
-- make the retry safe. The day counter row is held until COMMIT, so ticket
-- creation is serialised across daemons for the length of one batch: keep
-- batches short (tens to a hundred messages), not minutes long.

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
	'Help desk tickets. Created by mail (m2t_ingest) or by the front end; NOTIFY mail2ticket_events {"event":"ticket_created"} on insert.';
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
	sha256       text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
	size         bigint NOT NULL DEFAULT 0,
	outcome      text NOT NULL CHECK (outcome IN ('ticket', 'appended', 'ignored', 'badmail')),
	-- Deferred: m2t_ingest writes this row first, with the ids the ticket
	-- and article are about to get, so it never has to update it.
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
	sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
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

-- ---------------------------------------------------------------- events
-- Triggers, not code in m2t_ingest, so tickets and articles written by the
-- front end announce themselves the same way. pg_notify is transactional:
-- listeners hear nothing from a transaction that rolls back.
CREATE FUNCTION m2t_notify_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'ticket_created', 'ticket_id', NEW.id, 'number', NEW.number)::text);
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_ticket() IS
	'NOTIFY mail2ticket_events {"event":"ticket_created","ticket_id":…,"number":…}.';
CREATE TRIGGER tickets_notify AFTER INSERT ON tickets
	FOR EACH ROW EXECUTE FUNCTION m2t_notify_ticket();

CREATE FUNCTION m2t_notify_article() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'article_added', 'ticket_id', NEW.ticket_id, 'article_id', NEW.id,
		'kind', NEW.kind)::text);
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_article() IS
	'NOTIFY mail2ticket_events {"event":"article_added","ticket_id":…,"article_id":…,"kind":…}.';
CREATE TRIGGER articles_notify AFTER INSERT ON articles
	FOR EACH ROW EXECUTE FUNCTION m2t_notify_article();

-- ---------------------------------------------------------------- ticket numbers
-- The next number of today (UTC). The counter row stays locked until the
-- caller's transaction ends: concurrent creators wait instead of colliding,
-- and a rollback hands the number back (no gaps).
CREATE FUNCTION m2t_next_ticket_number() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d date := (now() AT TIME ZONE 'UTC')::date;
	n integer;
BEGIN
	INSERT INTO ticket_counters AS c (day, last) VALUES (d, 1)
	ON CONFLICT (day) DO UPDATE SET last = c.last + 1
	RETURNING c.last INTO n;
	-- lpad would cut a sixth digit; past 99999 a day the number just grows.
	RETURN to_char(d, 'YYYYMMDD') ||
	       CASE WHEN n <= 99999 THEN lpad(n::text, 5, '0') ELSE n::text END;
END $$;
COMMENT ON FUNCTION m2t_next_ticket_number() IS
	'Hands out the next human ticket number of the UTC day, e.g. 2026112100001; locks that day''s ticket_counters row until commit.';

-- ---------------------------------------------------------------- ingest
-- Everything one message needs, in one round trip. Identity first: the
-- processed_messages row is inserted with ON CONFLICT DO NOTHING (on any of
-- its unique keys), so a message seen before costs nothing else and no
-- unique violation ever aborts the caller's batch transaction.
CREATE FUNCTION m2t_ingest(
	p_job_run_id      bigint,
	p_account         text,
	p_mailbox         text,
	p_uidvalidity     bigint,
	p_uid             bigint,
	p_message_id      text,
	p_sha256          text,
	p_size            bigint,
	p_outcome         text,
	p_reason          text,
	p_raw             bytea,
	p_ticket_id       bigint,
	p_subject         text,
	p_queue           text,
	p_priority        text,
	p_status          text,
	p_requester_name  text,
	p_requester_email text,
	p_in_reply_to     text,
	p_references      text,
	p_from_name       text,
	p_from_email      text,
	p_to_names        text[],
	p_to_emails       text[],
	p_cc_names        text[],
	p_cc_emails       text[],
	p_article_subject text,
	p_body_text       text,
	p_body_html       text,
	p_sent_at         bigint,
	p_att_filenames   text[],
	p_att_types       text[],
	p_att_cids        text[],
	p_att_inline      boolean[],
	p_att_sha256      text[],
	p_att_contents    bytea[],
	OUT already_done  boolean,
	OUT outcome       text,
	OUT ticket_id     bigint,
	OUT ticket_number text,
	OUT article_id    bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_pm_id      bigint;
	v_contact_id bigint;
	v_email      text;
	v_reason     text := p_reason;
	v_outcome    text := p_outcome;
	v_tries      integer := 0;
	v_ticket_id  bigint;
	v_article_id bigint;
BEGIN
	IF p_outcome NOT IN ('ticket', 'appended', 'ignored', 'badmail') THEN
		RAISE EXCEPTION 'm2t_ingest: unknown outcome %', p_outcome;
	END IF;
	-- Ids first, so the identity row is written once, complete (an update
	-- would cost a second row version and a second entry in every index).
	-- A message found already done just leaves a gap in the sequences.
	IF p_outcome = 'ticket' THEN
		v_ticket_id := nextval('tickets_id_seq');
	ELSIF p_outcome = 'appended' THEN
		v_ticket_id := p_ticket_id;
	END IF;
	IF p_outcome IN ('ticket', 'appended') THEN
		v_article_id := nextval('articles_id_seq');
	END IF;

	-- 1. Identity. The loop covers a conflicting row that vanished between
	-- the INSERT and the SELECT (its transaction rolled back).
	LOOP
		INSERT INTO processed_messages AS pm (account, mailbox, uidvalidity, uid,
			message_id, sha256, size, outcome, reason, job_run_id, ticket_id, article_id)
		VALUES (p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id,
			p_sha256, coalesce(p_size, 0), p_outcome, p_reason, p_job_run_id,
			v_ticket_id, v_article_id)
		ON CONFLICT DO NOTHING
		RETURNING pm.id INTO v_pm_id;
		EXIT WHEN v_pm_id IS NOT NULL;

		SELECT true, pm.outcome, pm.ticket_id, t.number, pm.article_id
		  INTO already_done, outcome, ticket_id, ticket_number, article_id
		  FROM processed_messages pm LEFT JOIN tickets t ON t.id = pm.ticket_id
		 WHERE pm.account = p_account AND pm.mailbox = p_mailbox
		   AND pm.uidvalidity = p_uidvalidity AND pm.uid = p_uid;
		IF FOUND THEN
			RETURN;
		END IF;
		IF p_sha256 IS NOT NULL THEN
			SELECT true, pm.outcome, pm.ticket_id, t.number, pm.article_id
			  INTO already_done, outcome, ticket_id, ticket_number, article_id
			  FROM processed_messages pm LEFT JOIN tickets t ON t.id = pm.ticket_id
			 WHERE pm.account = p_account
			   AND coalesce(pm.message_id, '') = coalesce(p_message_id, '')
			   AND pm.sha256 = p_sha256;
			IF FOUND THEN
				RETURN;
			END IF;
		END IF;
		v_tries := v_tries + 1;
		IF v_tries >= 3 THEN
			RAISE EXCEPTION 'm2t_ingest: identity conflict for % % % % not resolved',
				p_account, p_mailbox, p_uidvalidity, p_uid
				USING ERRCODE = 'serialization_failure';
		END IF;
	END LOOP;

	already_done := false;
	outcome := p_outcome;

	IF p_outcome IN ('ticket', 'appended') THEN
		-- 2. Requester contact (no new row version unless the name changed).
		v_email := lower(btrim(coalesce(p_requester_email, '')));
		IF v_email <> '' THEN
			INSERT INTO contacts AS c (email, name) VALUES (v_email, coalesce(p_requester_name, ''))
			ON CONFLICT (email) DO UPDATE SET name = excluded.name, updated_at = now()
			   WHERE excluded.name <> '' AND c.name IS DISTINCT FROM excluded.name
			RETURNING c.id INTO v_contact_id;
			IF v_contact_id IS NULL THEN
				SELECT c.id INTO v_contact_id FROM contacts c WHERE c.email = v_email;
			END IF;
		END IF;

		-- 3./4. The ticket. An append whose ticket is gone becomes a new ticket
		-- rather than an error that would abort the whole batch.
		IF p_outcome = 'appended' THEN
			UPDATE tickets t SET updated_at = now() WHERE t.id = p_ticket_id
			RETURNING t.id, t.number INTO ticket_id, ticket_number;
			IF ticket_id IS NULL THEN
				outcome := 'ticket';
				v_ticket_id := nextval('tickets_id_seq');
				v_reason := concat_ws('; ', p_reason,
					format('ticket id %s to append to not found: new ticket', p_ticket_id));
			END IF;
		END IF;
		IF outcome = 'ticket' THEN
			ticket_number := m2t_next_ticket_number();
			INSERT INTO tickets AS t (id, number, account, subject, status, queue, priority,
				requester_id)
			VALUES (v_ticket_id, ticket_number, p_account, coalesce(p_subject, ''),
				coalesce(p_status, 'new'), coalesce(p_queue, 'default'),
				coalesce(p_priority, 'normal'), v_contact_id);
			ticket_id := v_ticket_id;
		END IF;

		-- 5. Article and attachments.
		INSERT INTO articles AS a (id, ticket_id, processed_message_id, kind, message_id,
			in_reply_to, message_references, from_name, from_email, to_addrs, cc_addrs,
			subject, body_text, body_html, sent_at, size)
		VALUES (v_article_id, ticket_id, v_pm_id, 'customer', p_message_id, p_in_reply_to, p_references,
			coalesce(p_from_name, ''), coalesce(p_from_email, ''),
			(SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'email', e) ORDER BY i), '[]')
			   FROM unnest(p_to_names, p_to_emails) WITH ORDINALITY AS x(n, e, i)),
			(SELECT coalesce(jsonb_agg(jsonb_build_object('name', n, 'email', e) ORDER BY i), '[]')
			   FROM unnest(p_cc_names, p_cc_emails) WITH ORDINALITY AS x(n, e, i)),
			coalesce(p_article_subject, ''), coalesce(p_body_text, ''), p_body_html,
			CASE WHEN p_sent_at IS NULL THEN NULL ELSE to_timestamp(p_sent_at) END,
			coalesce(p_size, 0));
		article_id := v_article_id;

		IF coalesce(cardinality(p_att_sha256), 0) > 0 THEN
			-- Sorted by sha256 so two batches insert shared contents in the same order.
			INSERT INTO attachment_contents (sha256, size, content)
			SELECT DISTINCT ON (s) s, octet_length(c), c
			  FROM unnest(p_att_sha256, p_att_contents) AS x(s, c)
			 ORDER BY s
			ON CONFLICT (sha256) DO NOTHING;

			INSERT INTO attachments (article_id, sha256, filename, content_type,
				content_id, is_inline, position)
			SELECT article_id, s, coalesce(f, ''), coalesce(ct, 'application/octet-stream'),
			       cid, coalesce(inl, false), (i - 1)::integer
			  FROM unnest(p_att_sha256, p_att_filenames, p_att_types, p_att_cids, p_att_inline)
			       WITH ORDINALITY AS x(s, f, ct, cid, inl, i);
		END IF;
	END IF;

	-- 6. Raw bytes; the identity row changes only when an append fell back
	-- to a new ticket (rare).
	IF p_raw IS NOT NULL THEN
		INSERT INTO raw_messages (processed_message_id, raw) VALUES (v_pm_id, p_raw);
	END IF;
	IF v_outcome IS DISTINCT FROM outcome THEN
		UPDATE processed_messages pm
		   SET ticket_id = v_ticket_id, outcome = m2t_ingest.outcome, reason = v_reason
		 WHERE pm.id = v_pm_id;
	END IF;
END $$;
COMMENT ON FUNCTION m2t_ingest(bigint, text, text, bigint, bigint, text, text, bigint, text, text,
	bytea, bigint, text, text, text, text, text, text, text, text, text, text, text[], text[],
	text[], text[], text, text, text, bigint, text[], text[], text[], boolean[], text[], bytea[]) IS
	'Stores one message in the caller''s transaction (one round trip): identity row, contact, ticket or append, article, attachments, raw bytes. If the identity (account, mailbox, uidvalidity, uid) or (account, Message-ID, sha256) exists, writes nothing and returns already_done with the stored outcome.';
