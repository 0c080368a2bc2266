-- 0007_keep: mail kept on an IMAP server is remembered under every UID it
-- has had, and the ingest says where a message found done was moved.
--
-- A job with keep_on_server: true leaves its mail in the mailbox and skips
-- what it has done by identity, before fetching anything: IMAP by
-- (account, mailbox, uidvalidity, uid), POP3 and Maildir by source_key. A
-- mail that comes back under a new identity (copied into the folder again,
-- every mail after a UIDVALIDITY change, the same bytes under a new UIDL)
-- is recognised by (account, Message-ID, sha256) and not stored twice. Since
-- 0004 such a mail of a keyed source also got a row for its own key, so it
-- is not fetched again; an IMAP one did not, and was fetched (and found
-- done by content) at every run. Now step 1d writes that row for IMAP too,
-- with the first one's outcome and plan and sha256 NULL, and its reason
-- names the first one: "same message as processed message N".
--
-- m2t_ingest_batch() is replaced (DROP, then CREATE: the result gains a
-- column) by the one function with the same arguments as 0004's, so the
-- database still has exactly one; the storage layer
-- (storage/store_ingest.h) sends exactly these parameters. What changed
-- against 0004: step 1d covers IMAP identities, and the result row of a
-- message found done carries move_to, the folder the first one's plan
-- moved it to (NULL: the archive, or badmail), so that a job that moves its
-- mail sends a copy, or a mail renumbered by a UIDVALIDITY change, where
-- the first one went. The lock order of 0001 and 0004 is unchanged: step 1d
-- writes processed_messages keys (class 1), after all of step 1c's, in
-- batch order.

COMMENT ON COLUMN processed_messages.sha256 IS
	'Hex sha256 of the raw message; with account and Message-ID a second identity that survives a UIDVALIDITY change. NULL when never fetched, and on the row of a mail recorded again under a new identity (reason "same message as processed message N": N holds the content key).';

DROP FUNCTION m2t_ingest_batch(bigint[], text[], text[], bigint[], bigint[], text[], text[],
	bigint[], text[], text[], bytea[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], text[], text[], text[], text[], bigint[], integer[], boolean[], text[],
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[], text[], text[], integer[],
	text[], text[], text[], bigint[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], boolean[], text[], text[], text[], text[], text[], text[], integer[],
	text[], text[], text[], text[], integer[], text[], text[], text[], text[]);

-- A batch of messages in one call, one statement per table for the whole
-- batch (not ~10 statements per message): the executor starts once per
-- table, and triggers fire once per statement.
--
-- Identity: the processed_messages rows are inserted with ON CONFLICT DO
-- NOTHING (on any of their unique keys), in batch order, so a message seen
-- before, in an earlier transaction or earlier in this very batch (same
-- UID, same source_key, or same Message-ID + sha256), writes nothing else
-- and reports already_done with the outcome stored for the first one; no
-- unique violation ever aborts the caller's transaction.
--
-- Lock order of 0001 holds, with the follow-up targets taken first:
--   0. tickets appended to (explicit ids and follow-ups found), FOR NO KEY
--      UPDATE, by id: their status is read under the lock, and the updates
--      of step 4 (updated_at, reopen, set) cannot deadlock on them
--   1.-6. as in 0001; participants and external refs are written in step
--      4, after the tickets, sorted by key.
-- Two calls of one transaction run one after the other: a message that
-- refers to another of the same batch is sent in a later call than it
-- (the storage layer splits the batch there), so its lookup sees the rows
-- the earlier call wrote. This function itself only looks at the database.
--
-- Arguments: those of 0001 (one element per message; addresses and
-- attachments flattened, *_msg holding the message's idx), then
-- preprocessing's (0002):
--   p_body_original   the text before preprocessing (p_body_text is the text
--                     after it: what agents read)
--   p_mail_client     the detected client
--   p_tr_*            one row per removal: p_tr_msg (the message's idx),
--                     stage, rule, "file:line:column" of the rule, start and
--                     end in p_body_original, the removed text
-- then the decision's (0003), one element per message:
--   p_article_kind    customer | note | system
--   p_type, p_owner, p_group           a new ticket's values (NULL: none)
--   p_tags            a new ticket's tags as a JSON array (NULL: none)
--   p_fields          a new ticket's custom fields as a JSON object (NULL: none)
--   p_set             changes to the ticket appended to, a JSON object with any
--                     of status, queue, priority, type, owner, group, subject
--                     (text), tags (array, added), fields (object, merged)
--   p_subject_key     kept on a new ticket
--   p_followup        look for the ticket this message follows up
--   p_if_none         an append that finds no ticket: ticket | ignored | badmail
--   p_closed          a customer reply to a closed ticket: reopen | new_ticket |
--                     reject | attach (append, stays closed)
--   p_stranger        a follow-up from a non-participant: note | new_ticket |
--                     reject | append
--   p_closed_statuses comma-separated statuses that count as closed
--   p_reopen_status   the status a reopened ticket gets
--   p_sender          From in lower case (the participant check)
--   p_sender_cap      new tickets per requester and hour (0: no cap)
--   p_bounce_email, p_bounce_status    a delivery report's failed recipient
--   p_statements, p_plan               JSON, recorded as they are
-- and the follow-up references flattened, in the order they are tried:
--   p_ref_msg (the message's idx), p_ref_kind (number | message_id | marker |
--   foreign | subject), p_ref_system (foreign: the tag's name; subject: how
--   many days back), p_ref_value;
-- and last the source key (0004), one per message: the POP3 UIDL or Maildir
-- unique name, NULL for IMAP (uidvalidity + uid) and for piped mail.
--
-- Results, one row per message in batch order: idx (from 1), already_done
-- (stored earlier, or earlier in this batch), the outcome, ticket and
-- article stored (now or then), the ticket's number, matched_by (how the
-- follow-up was found), and move_to: for a message found done, the folder
-- its first plan moved it to (NULL: archive or badmail; NULL for a message
-- stored now, whose caller has the plan).
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
	p_article_kind    text[],
	p_type            text[],
	p_owner           text[],
	p_group           text[],
	p_tags            text[],
	p_fields          text[],
	p_set             text[],
	p_subject_key     text[],
	p_followup        boolean[],
	p_if_none         text[],
	p_closed          text[],
	p_stranger        text[],
	p_closed_statuses text[],
	p_reopen_status   text[],
	p_sender          text[],
	p_sender_cap      integer[],
	p_bounce_email    text[],
	p_bounce_status   text[],
	p_statements      text[],
	p_plan            text[],
	p_ref_msg         integer[],
	p_ref_kind        text[],
	p_ref_system      text[],
	p_ref_value       text[],
	p_source_key      text[])
RETURNS TABLE (idx integer, already_done boolean, outcome text, ticket_id bigint,
	ticket_number text, article_id bigint, matched_by text, move_to text)
LANGUAGE plpgsql AS $$
DECLARE
	v_day   date := (now() AT TIME ZONE 'UTC')::date;
	v_n     integer := coalesce(cardinality(p_account), 0);
	-- The decision per message, arrays indexed by idx:
	d_out   text[];     -- outcome: ticket | appended | ignored | badmail
	d_tid   bigint[];   -- appended: the ticket
	d_kind  text[];     -- article kind
	d_reop  boolean[];  -- reopen the ticket appended to
	d_link  bigint[];   -- ticket: the ticket it is split from (closed, non-participant)
	d_match text[];     -- how the follow-up was found
	d_why   text[];     -- what the database changed, added to the reason
	-- inputs of the decision, per message
	f_tid   bigint[];   -- ticket found (explicit id or follow-up)
	f_match text[];
	f_stat  text[];     -- its status
	f_part  boolean[];  -- the sender is one of its participants
	f_num   text[];     -- its number
	v_targets bigint[];
	v_i     integer;
	v_closed boolean;
	-- the per-sender cap
	-- The messages stored now (identity won), parallel arrays in batch order:
	v_idx   integer[];
	v_pm    bigint[];
	v_tid   bigint[];
	v_aid   bigint[];
	v_out   text[];
	v_k     integer;
	v_last  integer;
	rec     record;
BEGIN
	IF v_n = 0 THEN
		RETURN;
	END IF;
	d_out := p_outcome;
	d_tid := array_fill(NULL::bigint, ARRAY[v_n]);
	d_kind := array_fill('customer'::text, ARRAY[v_n]);
	d_reop := array_fill(false, ARRAY[v_n]);
	d_link := array_fill(NULL::bigint, ARRAY[v_n]);
	d_match := array_fill(NULL::text, ARRAY[v_n]);
	d_why := array_fill(NULL::text, ARRAY[v_n]);
	FOR v_i IN 1 .. v_n LOOP
		d_kind[v_i] := coalesce(p_article_kind[v_i], 'customer');
	END LOOP;

	-- 0. The ticket each message would go to: its explicit id, else the first
	-- reference (in the order given) that finds one. One lookup per method
	-- for the whole batch.
	f_tid := array_fill(NULL::bigint, ARRAY[v_n]);
	f_match := array_fill(NULL::text, ARRAY[v_n]);
	f_stat := array_fill(NULL::text, ARRAY[v_n]);
	f_part := array_fill(false, ARRAY[v_n]);
	f_num := array_fill(NULL::text, ARRAY[v_n]);
	IF EXISTS (SELECT 1 FROM unnest(p_outcome, p_ticket_id, p_followup) AS u(o, t, f)
		    WHERE u.o IN ('ticket', 'appended') AND (u.t IS NOT NULL OR u.f))
	THEN
		FOR rec IN
			WITH m AS MATERIALIZED (
				SELECT u.i::integer AS i, u.tt, u.req, u.cs
				  FROM unnest(p_outcome, p_ticket_id, p_followup, p_requester_email,
					      p_closed_statuses)
				       WITH ORDINALITY AS u(o, tt, fu, req, cs, i)
				 WHERE u.o IN ('ticket', 'appended') AND (u.tt IS NOT NULL OR u.fu)
			), rr AS MATERIALIZED (
				SELECT x.msg, x.j, x.kind, x.sys, x.val, m.req, m.cs
				  FROM unnest(p_ref_msg, p_ref_kind, p_ref_system, p_ref_value)
				       WITH ORDINALITY AS x(msg, kind, sys, val, j)
				  JOIN m ON m.i = x.msg AND m.tt IS NULL
				 WHERE x.val IS NOT NULL AND x.val <> ''
			), hit AS (
				SELECT m.i AS msg, 0::bigint AS j, m.tt AS tid, 'ticket id ' || m.tt AS how
				  FROM m WHERE m.tt IS NOT NULL
				UNION ALL
				SELECT rr.msg, rr.j, t.id, rr.kind || ' ' || rr.val
				  FROM rr JOIN tickets t ON t.number = rr.val
				 WHERE rr.kind IN ('number', 'marker')
				UNION ALL
				SELECT rr.msg, rr.j, a.ticket_id, 'message_id <' || rr.val || '>'
				  FROM (SELECT * FROM rr WHERE rr.kind = 'message_id') rr
				 CROSS JOIN LATERAL (SELECT a.ticket_id FROM articles a
						      WHERE a.message_id = rr.val
						      ORDER BY a.id DESC LIMIT 1) a
				UNION ALL
				SELECT rr.msg, rr.j, e.ticket_id, 'foreign ' || rr.sys || ' ' || rr.val
				  FROM rr JOIN ticket_external_refs e
				       ON e.system = rr.sys AND e.ref = rr.val
				 WHERE rr.kind = 'foreign'
				UNION ALL
				SELECT rr.msg, rr.j, s.id, 'subject "' || rr.val || '"'
				  FROM (SELECT * FROM rr WHERE rr.kind = 'subject') rr
				  JOIN contacts c ON c.email = lower(btrim(rr.req))
				 CROSS JOIN LATERAL (SELECT t.id FROM tickets t
						      WHERE t.requester_id = c.id
							AND t.subject_key = rr.val
							AND t.created_at > now() - make_interval(
								days => coalesce(rr.sys, '14')::integer)
							AND NOT (t.status = ANY (string_to_array(rr.cs, ',')))
						      ORDER BY t.id DESC LIMIT 1) s
			)
			SELECT DISTINCT ON (hit.msg) hit.msg, hit.tid, hit.how
			  FROM hit ORDER BY hit.msg, hit.j
		LOOP
			f_tid[rec.msg] := rec.tid;
			f_match[rec.msg] := rec.how;
		END LOOP;
		SELECT array_agg(DISTINCT t) INTO v_targets FROM unnest(f_tid) AS t WHERE t IS NOT NULL;
	END IF;
	IF v_targets IS NOT NULL THEN
		-- locked in id order, then read as they are now: the status and
		-- participants a decision rests on cannot change before COMMIT
		PERFORM 1 FROM tickets t WHERE t.id = ANY (v_targets) ORDER BY t.id
		   FOR NO KEY UPDATE;
		FOR rec IN
			SELECT m.i::integer AS i, t.status, t.number,
			       EXISTS (SELECT 1 FROM ticket_participants tp
					WHERE tp.ticket_id = t.id AND tp.email = m.snd) AS part
			  FROM unnest(f_tid, p_sender) WITH ORDINALITY AS m(tid, snd, i)
			  JOIN tickets t ON t.id = m.tid
		LOOP
			f_stat[rec.i] := rec.status;
			f_num[rec.i] := rec.number;
			f_part[rec.i] := rec.part;
		END LOOP;
	END IF;

	-- 1a. The decision, message by message, in memory (no statement runs here).
	FOR v_i IN 1 .. v_n LOOP
		CONTINUE WHEN d_out[v_i] NOT IN ('ticket', 'appended');
		IF f_stat[v_i] IS NULL THEN
			-- no ticket found (or it vanished before we could lock it)
			IF d_out[v_i] = 'appended' THEN
				IF p_ticket_id[v_i] IS NOT NULL THEN
					d_out[v_i] := 'ticket';
					d_why[v_i] := format('ticket id %s to append to not found: new ticket',
							     p_ticket_id[v_i]);
				ELSIF p_if_none[v_i] = 'ignored' THEN
					d_out[v_i] := 'ignored';
					d_why[v_i] := 'no ticket to append to: ignored';
				ELSIF p_if_none[v_i] = 'badmail' THEN
					d_out[v_i] := 'badmail';
					d_why[v_i] := 'no ticket to append to: rejected';
				ELSE
					d_out[v_i] := 'ticket';
					d_why[v_i] := 'no ticket to append to: new ticket';
				END IF;
			END IF;
			CONTINUE;
		END IF;
		d_match[v_i] := f_match[v_i];
		v_closed := f_stat[v_i] = ANY (string_to_array(coalesce(p_closed_statuses[v_i], ''), ','));
		-- A follow-up from someone who is not on the ticket is not appended
		-- blindly: a forged subject number or Message-ID must not put words in
		-- a customer's mouth. Delivery reports carry no person.
		IF p_ticket_id[v_i] IS NULL AND d_kind[v_i] <> 'system'
		   AND coalesce(p_stranger[v_i], 'note') <> 'append' AND NOT f_part[v_i] THEN
			IF p_stranger[v_i] = 'new_ticket' THEN
				d_out[v_i] := 'ticket';
				d_link[v_i] := f_tid[v_i];
				d_why[v_i] := format('follow-up of ticket %s from %s, not a participant: '
						     'new ticket linked to it', f_num[v_i],
						     coalesce(nullif(p_sender[v_i], ''), 'an unknown sender'));
			ELSIF p_stranger[v_i] = 'reject' THEN
				d_out[v_i] := 'badmail';
				d_why[v_i] := format('follow-up of ticket %s from %s, not a participant: '
						     'rejected', f_num[v_i],
						     coalesce(nullif(p_sender[v_i], ''), 'an unknown sender'));
			ELSE
				d_out[v_i] := 'appended';
				d_tid[v_i] := f_tid[v_i];
				d_kind[v_i] := 'note';
				d_why[v_i] := format('follow-up of ticket %s from %s, not a participant: '
						     'appended as a note', f_num[v_i],
						     coalesce(nullif(p_sender[v_i], ''), 'an unknown sender'));
			END IF;
			CONTINUE;
		END IF;
		-- Only a customer's reply reopens; notes and reports attach quietly.
		IF v_closed AND d_kind[v_i] = 'customer' THEN
			IF p_closed[v_i] = 'new_ticket' THEN
				d_out[v_i] := 'ticket';
				d_link[v_i] := f_tid[v_i];
				d_why[v_i] := format('ticket %s is closed: new ticket linked to it', f_num[v_i]);
				CONTINUE;
			ELSIF p_closed[v_i] = 'reject' THEN
				d_out[v_i] := 'badmail';
				d_why[v_i] := format('ticket %s is closed: rejected', f_num[v_i]);
				CONTINUE;
			ELSIF p_closed[v_i] = 'attach' THEN
				d_why[v_i] := format('ticket %s is closed: appended, it stays closed', f_num[v_i]);
			ELSE
				d_reop[v_i] := true;
				d_why[v_i] := format('ticket %s was closed: reopened', f_num[v_i]);
			END IF;
		END IF;
		d_out[v_i] := 'appended';
		d_tid[v_i] := f_tid[v_i];
	END LOOP;

	-- 1b. The per-sender cap: new tickets of one requester in the last hour,
	-- those stored before (earlier calls of this transaction included) and
	-- those earlier in this batch. Over the cap: ignored, and recorded so.
	IF EXISTS (SELECT 1 FROM unnest(d_out, p_sender_cap) AS u(o, c) WHERE u.o = 'ticket' AND u.c > 0)
	THEN
		FOR rec IN
			WITH n AS (
				SELECT u.i::integer AS i, lower(btrim(u.req)) AS e, u.cap
				  FROM unnest(d_out, p_requester_email, p_sender_cap)
				       WITH ORDINALITY AS u(o, req, cap, i)
				 WHERE u.o = 'ticket' AND u.cap > 0 AND btrim(coalesce(u.req, '')) <> ''
			), have AS (
				SELECT d.e, (SELECT count(*) FROM tickets t JOIN contacts c ON c.id = t.requester_id
					      WHERE c.email = d.e
						AND t.created_at > now() - interval '1 hour') AS cnt
				  FROM (SELECT DISTINCT n.e FROM n) d
			)
			SELECT n.i, n.e, n.cap,
			       have.cnt + row_number() OVER (PARTITION BY n.e ORDER BY n.i) AS nth
			  FROM n JOIN have ON have.e = n.e
		LOOP
			IF rec.nth > rec.cap THEN
				d_out[rec.i] := 'ignored';
				d_link[rec.i] := NULL;
				d_why[rec.i] := concat_ws('; ', d_why[rec.i], format(
					'loop protection: more than %s new tickets from %s in the last hour: '
					'ignored', rec.cap, rec.e));
			END IF;
		END LOOP;
	END IF;

	-- 1c. Identity rows, complete: ids come from the sequences up front (a
	-- message found already done just leaves gaps in them).
	WITH b AS MATERIALIZED (
		SELECT u.i::integer AS i, u.acc, u.mbox, u.uv, u.uid, u.mid, u.sha, u.sz, u.jr,
		       u.rs, u.o, u.tt, u.why, u.mb, u.st, u.pl, u.sk
		  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256,
			      p_size, p_job_run_id, p_reason, d_out, d_tid, d_why, d_match,
			      p_statements, p_plan, p_source_key)
		       WITH ORDINALITY AS u(acc, mbox, uv, uid, mid, sha, sz, jr, rs, o, tt, why, mb,
					    st, pl, sk, i)
	), ids AS MATERIALIZED (
		SELECT b.*, nextval('processed_messages_id_seq') AS pm_id,
		       CASE WHEN b.o = 'ticket' THEN nextval('tickets_id_seq')
			    WHEN b.o = 'appended' THEN b.tt END AS tid,
		       CASE WHEN b.o IN ('ticket', 'appended') THEN nextval('articles_id_seq') END AS aid
		  FROM b
	), ins AS (
		INSERT INTO processed_messages AS pm (id, account, mailbox, uidvalidity, uid,
			message_id, sha256, size, outcome, reason, job_run_id, ticket_id, article_id,
			statements, plan, matched_by, source_key)
		SELECT ids.pm_id, ids.acc, ids.mbox, ids.uv, ids.uid, ids.mid, ids.sha,
		       coalesce(ids.sz, 0), ids.o, nullif(concat_ws('; ', ids.rs, ids.why), ''), ids.jr,
		       ids.tid, ids.aid, ids.st::jsonb, ids.pl::jsonb, ids.mb, ids.sk
		  FROM ids ORDER BY ids.i
		ON CONFLICT DO NOTHING
		RETURNING pm.id
	)
	SELECT array_agg(ids.i ORDER BY ids.i), array_agg(ids.pm_id ORDER BY ids.i),
	       array_agg(ids.tid ORDER BY ids.i), array_agg(ids.aid ORDER BY ids.i),
	       array_agg(ids.o ORDER BY ids.i)
	  INTO v_idx, v_pm, v_tid, v_aid, v_out
	  FROM ids JOIN ins ON ins.id = ids.pm_id;

	-- 1d. A message found done by content only (the same mail again under a
	-- new identity: copied back into its folder, or renumbered by a
	-- UIDVALIDITY change; a new POP3 UIDL or Maildir name) gets a row for
	-- its own identity too, (uidvalidity, uid) for IMAP, source_key for
	-- POP3 and Maildir, with the first one's outcome and plan: a source
	-- that keeps its mail (keep_on_server; badmail left on a POP3 server)
	-- then skips it by its identity at every later run, before fetching
	-- anything, and a redispose goes where the first one's plan said. Its
	-- sha256 stays NULL: the content key is the first one's (so the content
	-- lookup below, and at any later time, only ever finds the first one).
	-- Same lock class as step 1c (processed_messages unique keys), taken in
	-- batch order after all of 1c's: a concurrent writer of the same
	-- identity is waited for; when it committed, this row is not written
	-- (ON CONFLICT DO NOTHING), which loses nothing, as that writer's row
	-- stands for the same mail. A message of this batch whose identity
	-- exists already (same UID or key) finds that row here and writes
	-- nothing.
	INSERT INTO processed_messages AS pm (account, mailbox, uidvalidity, uid, source_key,
		size, outcome, reason, job_run_id, ticket_id, article_id, statements, plan,
		matched_by)
	SELECT u.acc, u.mbox, u.uv, u.uid, u.sk, coalesce(u.sz, 0), e.outcome,
	       format('same message as processed message %s', e.id), u.jr, e.ticket_id,
	       e.article_id, e.statements, e.plan, e.matched_by
	  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_source_key, p_size,
		      p_job_run_id, p_message_id, p_sha256)
	       WITH ORDINALITY AS u(acc, mbox, uv, uid, sk, sz, jr, mid, sha, i)
	  JOIN LATERAL (
		SELECT x.id, x.outcome, x.ticket_id, x.article_id, x.statements, x.plan,
		       x.matched_by
		  FROM processed_messages x
		 WHERE x.account = u.acc AND coalesce(x.message_id, '') = coalesce(u.mid, '')
		   AND x.sha256 = u.sha
		 LIMIT 1) e ON true
	 WHERE u.sha IS NOT NULL
	   AND (u.sk IS NOT NULL OR (u.uv IS NOT NULL AND u.uid IS NOT NULL))
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

		-- 3. Requesters, once per distinct address, sorted (lock order). A
		-- changed name, or mail from a bouncing address, updates the row.
		WITH rq AS (
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
			SELECT rq.e, rq.nm FROM rq ORDER BY rq.e
			ON CONFLICT (email) DO NOTHING
			RETURNING c.email
		)
		UPDATE contacts c SET name = CASE WHEN rq.nm <> '' THEN rq.nm ELSE c.name END,
		       bouncing = false, updated_at = now()
		  FROM rq
		 WHERE c.email = rq.e
		   AND ((rq.nm <> '' AND c.name IS DISTINCT FROM rq.nm) OR c.bouncing)
		   AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.email = rq.e);

		-- 4. Tickets (numbered in batch order), appended tickets (updated_at,
		-- reopen, set), then the articles, participants and external refs,
		-- parents before children.
		IF v_k > 0 THEN
			INSERT INTO tickets AS t (id, number, account, subject, status, queue,
				priority, requester_id, type, owner, group_name, tags, fields,
				subject_key, linked_ticket_id)
			SELECT n.tid, m2t_ticket_number(v_day, v_last - v_k
					+ (row_number() OVER (ORDER BY n.i))::integer),
			       m.acc, coalesce(m.subj, ''), coalesce(m.st, 'new'),
			       coalesce(m.qu, 'default'), coalesce(m.pr, 'normal'), c.id,
			       m.ty, m.ow, m.gr,
			       ARRAY(SELECT jsonb_array_elements_text(m.tg::jsonb)),
			       coalesce(m.fl::jsonb, '{}'), m.sk, m.lk
			  FROM unnest(v_idx, v_tid, v_out) AS n(i, tid, o)
			  JOIN unnest(p_account, p_subject, p_status, p_queue, p_priority,
				      p_requester_email, p_type, p_owner, p_group, p_tags, p_fields,
				      p_subject_key, d_link) WITH ORDINALITY
			       AS m(acc, subj, st, qu, pr, em, ty, ow, gr, tg, fl, sk, lk, i) ON m.i = n.i
			  LEFT JOIN contacts c ON c.email = lower(btrim(m.em))
			 WHERE n.o = 'ticket'
			 ORDER BY n.i;
		END IF;
		-- Appended tickets, one UPDATE for all: updated_at, reopening, and the
		-- `set` changes of their follow-ups in batch order (a later value
		-- wins; tags are added once; custom fields merged).
		IF 'appended' = ANY (v_out) THEN
			-- MATERIALIZED: the planner guesses one row for each, and would
			-- otherwise run the tag and field aggregates once per ticket
			WITH sets AS MATERIALIZED (
				SELECT n.i, n.tid, m.rs, m.ro, m.js::jsonb AS js
				  FROM unnest(v_idx, v_tid, v_out) AS n(i, tid, o)
				  JOIN unnest(p_reopen_status, d_reop, p_set) WITH ORDINALITY
				       AS m(rs, ro, js, i) ON m.i = n.i
				 WHERE n.o = 'appended'
			), tg AS MATERIALIZED (
				SELECT s.tid, array_agg(e.x ORDER BY s.i, e.o) AS tags
				  FROM sets s
				 CROSS JOIN LATERAL jsonb_array_elements_text(s.js -> 'tags')
				       WITH ORDINALITY AS e(x, o)
				 WHERE s.js ? 'tags'
				 GROUP BY s.tid
			), fl AS MATERIALIZED (
				SELECT s.tid, jsonb_object_agg(e.key, e.value ORDER BY s.i) AS fields
				  FROM sets s CROSS JOIN LATERAL jsonb_each(s.js -> 'fields') AS e
				 WHERE jsonb_typeof(s.js -> 'fields') = 'object'
				 GROUP BY s.tid
			), agg AS (
				SELECT s.tid,
				       (array_agg(s.rs ORDER BY s.i DESC) FILTER (WHERE s.ro))[1] AS reopen,
				       (array_agg(s.js ->> 'status' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'status'))[1] AS status,
				       (array_agg(s.js ->> 'queue' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'queue'))[1] AS queue,
				       (array_agg(s.js ->> 'priority' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'priority'))[1] AS priority,
				       (array_agg(s.js ->> 'type' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'type'))[1] AS type,
				       (array_agg(s.js ->> 'owner' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'owner'))[1] AS owner,
				       (array_agg(s.js ->> 'group' ORDER BY s.i DESC)
					  FILTER (WHERE s.js ? 'group'))[1] AS grp
				  FROM sets s GROUP BY s.tid
			)
			UPDATE tickets t SET updated_at = now(),
			       -- a rule's status wins over reopening
			       status = coalesce(agg.status, agg.reopen, t.status),
			       queue = coalesce(agg.queue, t.queue),
			       priority = coalesce(agg.priority, t.priority),
			       type = coalesce(agg.type, t.type),
			       owner = coalesce(agg.owner, t.owner),
			       group_name = coalesce(agg.grp, t.group_name),
			       tags = CASE WHEN tg.tags IS NULL THEN t.tags ELSE ARRAY(
					SELECT q.x FROM (
						SELECT a.x, min(a.o) AS o FROM (
							SELECT u.x, u.o FROM unnest(t.tags) WITH ORDINALITY AS u(x, o)
							UNION ALL
							SELECT v.x, 1000000 + v.o
							  FROM unnest(tg.tags) WITH ORDINALITY AS v(x, o)) a
						 GROUP BY a.x) q
					 ORDER BY q.o) END,
			       fields = CASE WHEN fl.fields IS NULL THEN t.fields ELSE t.fields || fl.fields END
			  FROM agg
			  LEFT JOIN tg ON tg.tid = agg.tid
			  LEFT JOIN fl ON fl.tid = agg.tid
			 WHERE t.id = agg.tid;
		END IF;

		IF v_aid IS NOT NULL AND EXISTS (SELECT 1 FROM unnest(v_aid) a WHERE a IS NOT NULL) THEN
			-- the preprocessing columns go in with the article: one row version
			-- per article, nothing rewritten afterwards
			INSERT INTO articles AS a (id, ticket_id, processed_message_id, kind, message_id,
				in_reply_to, message_references, from_name, from_email, to_addrs,
				cc_addrs, subject, body_text, body_html, sent_at, size, body_original,
				mail_client, preprocess_trace)
			SELECT n.aid, n.tid, n.pm, coalesce(d_kind[n.i], 'customer'), m.mid, m.irt, m.refs,
			       coalesce(m.fn, ''), coalesce(m.fe, ''),
			       coalesce(ad.to_addrs, '[]'), coalesce(ad.cc_addrs, '[]'),
			       coalesce(m.subj, ''), coalesce(m.txt, ''), m.html,
			       CASE WHEN m.sent IS NULL THEN NULL ELSE to_timestamp(m.sent) END,
			       coalesce(m.sz, 0), m.orig, m.cl, coalesce(tr.trace, '[]')
			  FROM unnest(v_idx, v_pm, v_tid, v_aid) AS n(i, pm, tid, aid)
			  JOIN unnest(p_message_id, p_in_reply_to, p_references, p_from_name,
				      p_from_email, p_article_subject, p_body_text, p_body_html,
				      p_sent_at, p_size, p_body_original, p_mail_client) WITH ORDINALITY
			       AS m(mid, irt, refs, fn, fe, subj, txt, html, sent, sz, orig, cl, i)
			       ON m.i = n.i
			  LEFT JOIN (
				SELECT x.msg,
				       jsonb_agg(jsonb_build_object('name', x.nm, 'email', x.em) ORDER BY x.j)
					   FILTER (WHERE NOT x.cc) AS to_addrs,
				       jsonb_agg(jsonb_build_object('name', x.nm, 'email', x.em) ORDER BY x.j)
					   FILTER (WHERE x.cc) AS cc_addrs
				  FROM unnest(p_addr_msg, p_addr_cc, p_addr_name, p_addr_email)
				       WITH ORDINALITY AS x(msg, cc, nm, em, j)
				 GROUP BY x.msg) ad ON ad.msg = n.i
			  LEFT JOIN (
				SELECT t.msg,
				       jsonb_agg(jsonb_build_object('stage', t.stage, 'rule', t.rule,
						'at', t.at, 'start', t.s, 'end', t.e, 'text', t.txt)
						ORDER BY t.ord) AS trace
				  FROM unnest(p_tr_msg, p_tr_stage, p_tr_rule, p_tr_at, p_tr_start,
					      p_tr_end, p_tr_text)
				       WITH ORDINALITY AS t(msg, stage, rule, at, s, e, txt, ord)
				 GROUP BY t.msg) tr ON tr.msg = n.i
			 WHERE n.aid IS NOT NULL
			 ORDER BY n.i;

			-- Participants: who wrote or was addressed by a new ticket or a
			-- customer's article (never by a note: a stranger stays one).
			INSERT INTO ticket_participants (ticket_id, email)
			SELECT DISTINCT p.tid, p.e FROM (
				SELECT n.tid, lower(btrim(m.em)) AS e
				  FROM unnest(v_idx, v_tid, v_out) AS n(i, tid, o)
				  JOIN unnest(p_requester_email, p_from_email) WITH ORDINALITY
				       AS m(em, fe, i) ON m.i = n.i
				 WHERE n.o = 'ticket' OR (n.o = 'appended' AND d_kind[n.i] = 'customer')
				UNION ALL
				SELECT n.tid, lower(btrim(m.fe))
				  FROM unnest(v_idx, v_tid, v_out) AS n(i, tid, o)
				  JOIN unnest(p_requester_email, p_from_email) WITH ORDINALITY
				       AS m(em, fe, i) ON m.i = n.i
				 WHERE n.o = 'ticket' OR (n.o = 'appended' AND d_kind[n.i] = 'customer')
				UNION ALL
				SELECT n.tid, lower(btrim(x.em))
				  FROM unnest(p_addr_msg, p_addr_email) AS x(msg, em)
				  JOIN unnest(v_idx, v_tid, v_out) AS n(i, tid, o) ON n.i = x.msg
				 WHERE n.o = 'ticket' OR (n.o = 'appended' AND d_kind[n.i] = 'customer')
			) p
			 WHERE coalesce(p.e, '') <> ''
			 ORDER BY 1, 2
			ON CONFLICT DO NOTHING;

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

		-- Other systems' tags, kept on the ticket a customer's mail landed on.
		IF 'foreign' = ANY (p_ref_kind) THEN
			INSERT INTO ticket_external_refs (system, ref, ticket_id)
			SELECT DISTINCT ON (x.sys, x.val) x.sys, x.val, n.tid
			  FROM unnest(p_ref_msg, p_ref_kind, p_ref_system, p_ref_value)
			       AS x(msg, kind, sys, val)
			  JOIN unnest(v_idx, v_tid, v_out) AS n(i, tid, o) ON n.i = x.msg
			 WHERE x.kind = 'foreign' AND x.sys IS NOT NULL AND coalesce(x.val, '') <> ''
			   AND (n.o = 'ticket' OR (n.o = 'appended' AND d_kind[n.i] = 'customer'))
			 ORDER BY x.sys, x.val, n.i
			ON CONFLICT DO NOTHING;
		END IF;

		-- Delivery reports attached to their original's ticket: the failed
		-- address is marked (a report that found nothing of ours marks nothing).
		IF EXISTS (SELECT 1 FROM unnest(v_idx, v_out) AS n(i, o)
			    WHERE n.o = 'appended' AND d_kind[n.i] = 'system'
			      AND coalesce(p_bounce_email[n.i], '') <> '') THEN
			INSERT INTO contacts (email)
			SELECT DISTINCT lower(btrim(p_bounce_email[n.i]))
			  FROM unnest(v_idx, v_out) AS n(i, o)
			 WHERE n.o = 'appended' AND d_kind[n.i] = 'system'
			   AND btrim(coalesce(p_bounce_email[n.i], '')) <> ''
			 ORDER BY 1
			ON CONFLICT (email) DO NOTHING;
			UPDATE contacts c SET bouncing = true, bounced_at = now(), bounce_status = b.st,
			       updated_at = now()
			  FROM (SELECT DISTINCT ON (lower(btrim(p_bounce_email[n.i])))
				       lower(btrim(p_bounce_email[n.i])) AS e, p_bounce_status[n.i] AS st
				  FROM unnest(v_idx, v_out) AS n(i, o)
				 WHERE n.o = 'appended' AND d_kind[n.i] = 'system'
				   AND btrim(coalesce(p_bounce_email[n.i], '')) <> ''
				 ORDER BY 1, n.i DESC) b
			 WHERE c.email = b.e;
		END IF;

		-- 6. Raw bytes of every message stored now (badmail and ignored too).
		INSERT INTO raw_messages (processed_message_id, raw)
		SELECT n.pm, r.raw
		  FROM unnest(v_idx, v_pm) AS n(i, pm)
		  JOIN unnest(p_raw) WITH ORDINALITY AS r(raw, i) ON r.i = n.i
		 WHERE r.raw IS NOT NULL;
	END IF;

	-- 7. One row per message. The others are looked up with this statement's
	-- fresh snapshot, which sees a concurrent writer we waited for in step 1c
	-- and the rows stored earlier in this batch. A row found by no key (it
	-- vanished meanwhile) has outcome NULL: the caller retries the batch.
	RETURN QUERY
	SELECT q.i::integer, n.i IS NULL, coalesce(n.o, e.outcome),
	       coalesce(n.tid, e.ticket_id), t.number, coalesce(n.aid, e.article_id),
	       CASE WHEN n.i IS NOT NULL THEN d_match[q.i] ELSE e.matched_by END,
	       CASE WHEN n.i IS NULL THEN e.plan ->> 'move_to' END
	  FROM unnest(p_account, p_mailbox, p_uidvalidity, p_uid, p_message_id, p_sha256,
		      p_source_key)
	       WITH ORDINALITY AS q(acc, mbox, uv, uid, mid, sha, sk, i)
	  LEFT JOIN unnest(v_idx, v_tid, v_aid, v_out) AS n(i, tid, aid, o) ON n.i = q.i
	  LEFT JOIN LATERAL (
		SELECT pm.outcome, pm.ticket_id, pm.article_id, pm.matched_by, pm.plan
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND pm.account = q.acc AND pm.mailbox = q.mbox
		   AND pm.uidvalidity = q.uv AND pm.uid = q.uid
		UNION ALL
		SELECT pm.outcome, pm.ticket_id, pm.article_id, pm.matched_by, pm.plan
		  FROM processed_messages pm
		 WHERE n.i IS NULL AND q.sk IS NOT NULL AND pm.account = q.acc
		   AND pm.source_key = q.sk
		UNION ALL
		SELECT pm.outcome, pm.ticket_id, pm.article_id, pm.matched_by, pm.plan
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
	text[], integer[], text[], text[], text[], boolean[], text[], bytea[], text[], text[], integer[],
	text[], text[], text[], bigint[], bigint[], text[], text[], text[], text[], text[], text[],
	text[], text[], text[], boolean[], text[], text[], text[], text[], text[], text[], integer[],
	text[], text[], text[], text[], integer[], text[], text[], text[], text[]) IS
	'Stores a batch of messages in the caller''s transaction (one call): follow-up lookup (explicit ticket id, else the first reference that finds a ticket), participant and closed-ticket policies, the per-sender cap, identity rows (IMAP UID, source key, or Message-ID + sha256), ticket numbers, contacts, tickets or appends, articles with their preprocessing (text before, client, trace), participants, external refs, attachments, raw bytes, bouncing addresses; one result row per message (idx from 1) with how a follow-up was found. A message whose identity exists, also earlier in the same batch, writes nothing and returns already_done with the stored outcome and the folder its plan moved it to (move_to); one found by Message-ID + sha256 under a new IMAP UID or source key gets a row for that identity (sha256 NULL, the first one''s outcome and plan).';
