-- 0002_preprocess: what preprocessing did to each mail (rules/preprocess.h).
--
-- articles.body_text is what agents read: the text after preprocessing
-- (quoted history, reply headers and signatures taken out). Nothing the
-- sender wrote is lost: body_original keeps the text before preprocessing,
-- and preprocess_trace says what each stage and rule removed, with the
-- rule's file:line:column and the removed text.
--
-- m2t_ingest_batch gains the new values as an overload with nine more
-- arrays: it stores the batch with the 0001 function (unchanged, so its
-- lock order stays as documented there) and then fills the three columns
-- of the articles it created, in one more statement per batch.

ALTER TABLE articles
	ADD COLUMN body_original text,
	ADD COLUMN preprocess_trace jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN mail_client text;
COMMENT ON COLUMN articles.body_text IS
	'Body as text (text/plain, else the HTML turned into text), after preprocessing: what agents read. The text before preprocessing is body_original.';
COMMENT ON COLUMN articles.body_original IS
	'Body as text before preprocessing, whole; NULL for articles stored before migration 0002 (their body_text is the original).';
COMMENT ON COLUMN articles.preprocess_trace IS
	'What preprocessing removed, in order: a JSON array of {"stage", "rule", "at": "file:line:column" of the rule, "start", "end": byte offsets in body_original (the span may enclose bytes an earlier entry took), "text": the bytes removed}. [] when nothing was removed.';
COMMENT ON COLUMN articles.mail_client IS
	'Mail client that sent it ("outlook-desktop", "gmail", "apple-mail", ...) as the message model or a rule pack recognised it; NULL when unknown.';

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
	p_tr_text         text[])
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
		p_att_inline, p_att_sha256, p_att_content) AS b
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
	integer[], text[], text[], text[], bigint[], bigint[], text[]) IS
	'm2t_ingest_batch of 0001 plus preprocessing: p_body_text is the cleaned text, p_body_original the text before, p_mail_client the detected client (one each per message), and p_tr_* one row per removal (p_tr_msg is the message''s idx from 1). Same results as the 0001 function.';
