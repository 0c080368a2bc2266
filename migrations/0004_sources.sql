-- 0004_sources: message identity for sources without IMAP UIDs.
--
-- IMAP identifies a message by (account, mailbox, uidvalidity, uid). POP3
-- has a UIDL per message and Maildir a unique file name (the part before
-- ":2,"); both stay the same for as long as the message exists, whatever its
-- position. They become processed_messages.source_key, unique per account
-- (the column 0001 reserved as `uidl`, renamed because it now holds Maildir
-- names too). Mail piped in by an MTA (`mail2ticket deliver`) has neither:
-- its identity is (account, Message-ID, sha256) alone, so a row may now
-- carry only that.
--
-- The IMAP columns, their unique key and the IMAP path through
-- m2t_ingest_batch() are unchanged; the function gains one argument,
-- p_source_key (one element per message, NULL for IMAP), last, and every
-- place that uses it is marked "source_key" below (step 1b is new: a copy
-- of a processed mail under a new key records that key); the rest is
-- 0001's text.

ALTER TABLE processed_messages RENAME COLUMN uidl TO source_key;
ALTER INDEX processed_messages_uidl RENAME TO processed_messages_source_key;
ALTER TABLE processed_messages DROP CONSTRAINT processed_messages_has_identity;
ALTER TABLE processed_messages ADD CONSTRAINT processed_messages_has_identity
	CHECK ((uidvalidity IS NOT NULL AND uid IS NOT NULL) OR source_key IS NOT NULL
	       OR sha256 IS NOT NULL);
COMMENT ON COLUMN processed_messages.source_key IS
	'Identity of a message from a source without IMAP UIDs, unique per account: the POP3 UIDL, or the Maildir unique name (file name before ":2,"). NULL for IMAP (uidvalidity + uid) and for mail piped in by an MTA (Message-ID + sha256 only).';
COMMENT ON COLUMN processed_messages.mailbox IS
	'Source mailbox the message was in: IMAP folder, Maildir folder ("INBOX" for the top level), "INBOX" for POP3, "stdin" for mail piped in by an MTA.';
COMMENT ON COLUMN processed_messages.uidvalidity IS
	'IMAP UIDVALIDITY of the mailbox at the time; NULL for other sources.';
COMMENT ON COLUMN processed_messages.uid IS
	'IMAP UID (with uidvalidity and mailbox the identity of the message); NULL for other sources.';

DROP FUNCTION m2t_ingest_batch(bigint[], text[], text[], bigint[], bigint[], text[], text[],
	bigint[], text[], text[], bytea[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], text[], text[], text[], text[], bigint[], integer[], boolean[], text[],
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[]);

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
-- (same UID, same source_key, or same Message-ID + sha256), writes nothing
-- else and reports already_done with the outcome stored for the first one;
-- no unique violation ever aborts the caller's transaction.
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
	p_att_content     bytea[],
	-- source_key: POP3 UIDL or Maildir unique name; NULL for IMAP and piped mail
	p_source_key      text[])
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
		       u.rs, u.tt, u.o AS asked, u.sk,  -- source_key
		       CASE WHEN u.o = 'appended' AND NOT coalesce(u.tt = ANY (v_found), false)
			    THEN 'ticket' ELSE u.o END AS o
		  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256,
			      p_size, p_job_run_id, p_reason, p_ticket_id, p_outcome, p_source_key)  -- source_key
		       WITH ORDINALITY AS u(acc, mbox, uv, uid, mid, sha, sz, jr, rs, tt, o, sk, i)
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
			message_id, sha256, size, outcome, reason, job_run_id, ticket_id, article_id,
			source_key)  -- source_key
		SELECT ids.pm_id, ids.acc, ids.mbox, ids.uv, ids.uid, ids.mid, ids.sha,
		       coalesce(ids.sz, 0), ids.o, ids.why, ids.jr, ids.tid, ids.aid, ids.sk
		  FROM ids ORDER BY ids.i
		ON CONFLICT DO NOTHING
		RETURNING pm.id
	)
	SELECT array_agg(ids.i ORDER BY ids.i), array_agg(ids.pm_id ORDER BY ids.i),
	       array_agg(ids.tid ORDER BY ids.i), array_agg(ids.aid ORDER BY ids.i),
	       array_agg(ids.o ORDER BY ids.i)
	  INTO v_idx, v_pm, v_tid, v_aid, v_out
	  FROM ids JOIN ins ON ins.id = ids.pm_id;

	-- 1b. source_key: a message of a keyed source found done by content
	-- only (the same mail again under a new UIDL or file name) gets a row
	-- for its own key too, with the first one's outcome, so a source that
	-- keeps its mail (keep_on_server; badmail left on a POP3 server) does
	-- not fetch it again at every run. Its sha256 stays NULL: the content
	-- key is the first one's. Same lock class as step 1, in batch order.
	INSERT INTO processed_messages AS pm (account, mailbox, source_key, size, outcome,
		reason, job_run_id, ticket_id, article_id)
	SELECT u.acc, u.mbox, u.sk, coalesce(u.sz, 0), e.outcome,
	       format('same message as processed message %s', e.id), u.jr, e.ticket_id,
	       e.article_id
	  FROM unnest(p_account, p_mailbox, p_source_key, p_size, p_job_run_id, p_message_id,
		      p_sha256) WITH ORDINALITY AS u(acc, mbox, sk, sz, jr, mid, sha, i)
	  JOIN LATERAL (
		SELECT x.id, x.outcome, x.ticket_id, x.article_id
		  FROM processed_messages x
		 WHERE x.account = u.acc AND coalesce(x.message_id, '') = coalesce(u.mid, '')
		   AND x.sha256 = u.sha
		 LIMIT 1) e ON true
	 WHERE u.sk IS NOT NULL AND u.sha IS NOT NULL
	   AND NOT coalesce(u.i = ANY (v_idx), false)
	 ORDER BY u.i
	ON CONFLICT DO NOTHING;

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
	-- and the rows stored earlier in this batch. A row found by no key
	-- (it vanished meanwhile) has outcome NULL: the caller retries the batch.
	RETURN QUERY
	SELECT q.i::integer, n.i IS NULL, coalesce(n.o, e.outcome),
	       coalesce(n.tid, e.ticket_id), t.number, coalesce(n.aid, e.article_id)
	  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256,
		      p_source_key)  -- source_key
	       WITH ORDINALITY AS q(acc, mbox, uv, uid, mid, sha, sk, i)
	  LEFT JOIN unnest(v_idx, v_tid, v_aid, v_out) AS n(i, tid, aid, o) ON n.i = q.i
	  LEFT JOIN LATERAL (
		SELECT pm.outcome, pm.ticket_id, pm.article_id
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND pm.account = q.acc AND pm.mailbox = q.mbox
		   AND pm.uidvalidity = q.uv AND pm.uid = q.uid
		UNION ALL
		-- source_key
		SELECT pm.outcome, pm.ticket_id, pm.article_id
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND q.sk IS NOT NULL AND pm.account = q.acc
		   AND pm.source_key = q.sk
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
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[], text[]) IS
	'Stores a batch of messages in the caller''s transaction (one call): identity rows, ticket numbers, contacts, tickets or appends, articles, attachments, raw bytes; one result row per message (idx from 1). A message whose identity (account, mailbox, uidvalidity, uid), (account, source_key) or (account, Message-ID, sha256) exists, also earlier in the same batch, writes nothing and returns already_done with the stored outcome.';

-- ------------------------------------------------- ingest with preprocessing
-- The overload of 0002 (preprocessing results) called the function replaced
-- above: it is replaced too, with p_source_key last, passed through.
DROP FUNCTION m2t_ingest_batch(bigint[], text[], text[], bigint[], bigint[], text[], text[],
	bigint[], text[], text[], bytea[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], text[], text[], text[], text[], bigint[], integer[], boolean[], text[],
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[], text[], text[],
	integer[], text[], text[], text[], bigint[], bigint[], text[]);
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
	p_att_content     bytea[],
	p_body_original   text[],
	p_mail_client     text[],
	p_tr_msg          integer[],
	p_tr_stage        text[],
	p_tr_rule         text[],
	p_tr_at           text[],
	p_tr_start        bigint[],
	p_tr_end          bigint[],
	p_tr_text         text[],
	p_source_key      text[])
RETURNS TABLE (idx integer, already_done boolean, outcome text, ticket_id bigint,
	ticket_number text, article_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
	r     record;
	v_idx integer[] := '{}';  -- messages stored now, with an article
	v_aid bigint[] := '{}';
BEGIN
	FOR r IN SELECT * FROM m2t_ingest_batch(p_job_run_id, p_account, p_mailbox,
		p_uidvalidity, p_uid, p_message_id, p_sha256, p_size, p_outcome, p_reason, p_raw,
		p_ticket_id, p_subject, p_queue, p_priority, p_status, p_requester_name,
		p_requester_email, p_in_reply_to, p_references, p_from_name, p_from_email,
		p_article_subject, p_body_text, p_body_html, p_sent_at, p_addr_msg, p_addr_cc,
		p_addr_name, p_addr_email, p_att_msg, p_att_filename, p_att_type, p_att_cid,
		p_att_inline, p_att_sha256, p_att_content, p_source_key) AS b
	LOOP
		IF NOT r.already_done AND r.article_id IS NOT NULL THEN
			v_idx := v_idx || r.idx;
			v_aid := v_aid || r.article_id;
		END IF;
		idx := r.idx;
		already_done := r.already_done;
		outcome := r.outcome;
		ticket_id := r.ticket_id;
		ticket_number := r.ticket_number;
		article_id := r.article_id;
		RETURN NEXT;
	END LOOP;

	IF cardinality(v_idx) > 0 THEN
		WITH tr AS (
			SELECT t.msg,
			       jsonb_agg(jsonb_build_object('stage', t.stage, 'rule', t.rule,
					'at', t.at, 'start', t.s, 'end', t.e, 'text', t.txt)
					ORDER BY t.ord) AS trace
			  FROM unnest(p_tr_msg, p_tr_stage, p_tr_rule, p_tr_at, p_tr_start, p_tr_end,
				      p_tr_text) WITH ORDINALITY AS t(msg, stage, rule, at, s, e, txt, ord)
			 GROUP BY t.msg)
		UPDATE articles a
		   SET body_original = p_body_original[u.i],
		       mail_client = p_mail_client[u.i],
		       preprocess_trace = coalesce(tr.trace, '[]'::jsonb)
		  FROM unnest(v_idx, v_aid) AS u(i, aid)
		  LEFT JOIN tr ON tr.msg = u.i
		 WHERE a.id = u.aid;
	END IF;
END $$;
COMMENT ON FUNCTION m2t_ingest_batch(bigint[], text[], text[], bigint[], bigint[], text[], text[],
	bigint[], text[], text[], bytea[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], text[], text[], text[], text[], bigint[], integer[], boolean[], text[],
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[], text[], text[],
	integer[], text[], text[], text[], bigint[], bigint[], text[],
	text[]) IS
	'm2t_ingest_batch with identity by source key, plus preprocessing (0002): p_body_text is the cleaned text, p_body_original the text before, p_mail_client the detected client (one each per message), p_tr_* one row per removal (p_tr_msg is the message''s idx from 1), p_source_key last (one per message). Same results as the function without the preprocessing arrays.';
