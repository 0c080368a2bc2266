-- 0003_statements: what the statement rules, follow-ups and loop protection
-- need from the schema (README "Rules", "Follow-ups and loops").
--
--   tickets              type, owner, group, tags, custom fields (jsonb),
--                        the subject key replies are matched on, a link to
--                        the ticket a new one was split from
--   ticket_participants  who may follow a ticket up (requester, senders and
--                        recipients of its customer articles)
--   ticket_external_refs other systems' ticket tags, stored on our tickets
--   contacts             bouncing addresses (delivery reports)
--   processed_messages   the statements that matched, the plan, and how a
--                        follow-up was recognised
--   NOTIFY               ticket_updated (status, queue, ... changed) and
--                        contact_bouncing, beside ticket_created and
--                        article_added of 0001
--
-- Schema only: m2t_ingest_batch, which resolves follow-ups, applies the
-- participant and closed-ticket policies and the per-sender cap, attaches
-- delivery reports and fills all of this, is defined once, with the
-- arguments of every migration up to it, in migrations/0004_sources.sql.

-- ---------------------------------------------------------------- tickets
ALTER TABLE tickets
	ADD COLUMN type             text,
	ADD COLUMN owner            text,
	ADD COLUMN group_name       text,
	ADD COLUMN tags             text[] NOT NULL DEFAULT '{}',
	ADD COLUMN fields           jsonb NOT NULL DEFAULT '{}',
	ADD COLUMN subject_key      text,
	ADD COLUMN linked_ticket_id bigint REFERENCES tickets (id);
-- Replies matched by subject look up (requester, subject_key); the
-- per-sender cap counts (requester, created_at). The latter makes the
-- single-column index of 0001 redundant.
CREATE INDEX tickets_requester_subject ON tickets (requester_id, subject_key)
	WHERE subject_key IS NOT NULL;
CREATE INDEX tickets_requester_created ON tickets (requester_id, created_at);
DROP INDEX tickets_requester;
COMMENT ON COLUMN tickets.type IS 'Ticket type (rules: create_ticket/set type); NULL when none.';
COMMENT ON COLUMN tickets.owner IS 'Agent the ticket is assigned to (rules); NULL when none.';
COMMENT ON COLUMN tickets.group_name IS 'Agent group the ticket is assigned to (rules); NULL when none.';
COMMENT ON COLUMN tickets.tags IS 'Tags (rules), in the order given, no duplicates.';
COMMENT ON COLUMN tickets.fields IS 'Custom fields as a JSON object (rules: create_ticket/set fields); integers and decimals of typed fields are JSON numbers.';
COMMENT ON COLUMN tickets.subject_key IS 'The first mail''s subject without reply/forward prefixes and ticket tags, case-folded: a reply without references is matched on it (same requester, open ticket, followup.subject_match_days).';
COMMENT ON COLUMN tickets.linked_ticket_id IS 'The ticket this one was split from: a follow-up to a closed ticket or from a non-participant, when the policy says new_ticket.';

-- ---------------------------------------------------------------- participants
CREATE TABLE ticket_participants (
	ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	email     text NOT NULL CHECK (email = lower(email)),
	PRIMARY KEY (ticket_id, email)
);
COMMENT ON TABLE ticket_participants IS
	'Who may follow a ticket up by mail: its requester, and the senders and To/Cc recipients of its customer articles. A follow-up from anyone else is handled by the job''s non_participant policy (a note by default). The front end may add rows (e.g. agents).';
COMMENT ON COLUMN ticket_participants.ticket_id IS 'The ticket.';
COMMENT ON COLUMN ticket_participants.email IS 'An address in lower case.';

INSERT INTO ticket_participants (ticket_id, email)
SELECT t.id, c.email FROM tickets t JOIN contacts c ON c.id = t.requester_id
UNION
SELECT a.ticket_id, lower(btrim(a.from_email)) FROM articles a
 WHERE a.kind = 'customer' AND btrim(a.from_email) <> ''
UNION
SELECT a.ticket_id, lower(btrim(x.e ->> 'email'))
  FROM articles a, jsonb_array_elements(a.to_addrs || a.cc_addrs) AS x(e)
 WHERE a.kind = 'customer' AND btrim(coalesce(x.e ->> 'email', '')) <> '';

-- ---------------------------------------------------------------- external refs
CREATE TABLE ticket_external_refs (
	system     text NOT NULL,
	ref        text NOT NULL,
	ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (system, ref)
);
CREATE INDEX ticket_external_refs_ticket ON ticket_external_refs (ticket_id);
COMMENT ON TABLE ticket_external_refs IS
	'Other systems'' ticket tags found in mail (followup.foreign_tags), kept on the ticket the mail landed on: a later mail with the same tag is a follow-up of that ticket.';
COMMENT ON COLUMN ticket_external_refs.system IS 'The tag''s name in the job configuration (e.g. "jira").';
COMMENT ON COLUMN ticket_external_refs.ref IS 'The other system''s ticket reference (e.g. "SUP-1234").';
COMMENT ON COLUMN ticket_external_refs.ticket_id IS 'Our ticket.';
COMMENT ON COLUMN ticket_external_refs.created_at IS 'When the tag was first seen.';

-- ---------------------------------------------------------------- contacts
ALTER TABLE contacts
	ADD COLUMN bouncing      boolean NOT NULL DEFAULT false,
	ADD COLUMN bounced_at    timestamptz,
	ADD COLUMN bounce_status text;
COMMENT ON COLUMN contacts.bouncing IS 'A delivery report for one of our mails to this address said it failed; cleared when mail from the address arrives.';
COMMENT ON COLUMN contacts.bounced_at IS 'When the last such report was stored.';
COMMENT ON COLUMN contacts.bounce_status IS 'The report''s status code, e.g. 5.1.1.';

-- ---------------------------------------------------------------- processed messages
ALTER TABLE processed_messages
	ADD COLUMN statements jsonb,
	ADD COLUMN plan       jsonb,
	ADD COLUMN matched_by text;
COMMENT ON COLUMN processed_messages.statements IS 'The statements (branches) that matched, in order, as a JSON array of names; [] when none; NULL for mail never decided on (badmail before the rules).';
COMMENT ON COLUMN processed_messages.plan IS 'The plan the rules made, as JSON (action, ticket values, follow-up references, policies, loop protection); the outcome may differ where the database decided (follow-up found, policies, cap).';
COMMENT ON COLUMN processed_messages.matched_by IS 'How the mail was found to follow up its ticket: "number N", "message_id ID", "marker N", "foreign SYSTEM REF", "subject KEY" or "ticket id N"; NULL when it was not a follow-up.';

-- ---------------------------------------------------------------- events
CREATE FUNCTION m2t_notify_ticket_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'ticket_updated', 'ticket_id', n.id, 'number', n.number,
		'changes', ch.changes)::text)
	   FROM m2t_new_tickets n JOIN m2t_old_tickets o ON o.id = n.id
	   CROSS JOIN LATERAL (
		SELECT array_agg(c) AS changes FROM unnest(ARRAY[
			CASE WHEN n.status IS DISTINCT FROM o.status THEN 'status' END,
			CASE WHEN n.queue IS DISTINCT FROM o.queue THEN 'queue' END,
			CASE WHEN n.priority IS DISTINCT FROM o.priority THEN 'priority' END,
			CASE WHEN n.type IS DISTINCT FROM o.type THEN 'type' END,
			CASE WHEN n.owner IS DISTINCT FROM o.owner THEN 'owner' END,
			CASE WHEN n.group_name IS DISTINCT FROM o.group_name THEN 'group' END,
			CASE WHEN n.tags IS DISTINCT FROM o.tags THEN 'tags' END,
			CASE WHEN n.fields IS DISTINCT FROM o.fields THEN 'fields' END,
			CASE WHEN n.subject IS DISTINCT FROM o.subject THEN 'subject' END]) AS c
		 WHERE c IS NOT NULL) ch
	  WHERE ch.changes IS NOT NULL
	  ORDER BY n.id;
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_ticket_update() IS
	'NOTIFY mail2ticket_events {"event":"ticket_updated","ticket_id":…,"number":…,"changes":["status",…]}, one per updated ticket whose visible values changed (an appended article alone is article_added).';
CREATE TRIGGER tickets_notify_update AFTER UPDATE ON tickets
	REFERENCING OLD TABLE AS m2t_old_tickets NEW TABLE AS m2t_new_tickets
	FOR EACH STATEMENT EXECUTE FUNCTION m2t_notify_ticket_update();

CREATE FUNCTION m2t_notify_contact_bouncing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('mail2ticket_events', json_build_object(
		'event', 'contact_bouncing', 'contact_id', n.id, 'email', n.email,
		'status', n.bounce_status)::text)
	   FROM m2t_new_contacts n LEFT JOIN m2t_old_contacts o ON o.id = n.id
	  WHERE n.bouncing AND n.bounced_at IS DISTINCT FROM o.bounced_at
	  ORDER BY n.id;
	RETURN NULL;
END $$;
COMMENT ON FUNCTION m2t_notify_contact_bouncing() IS
	'NOTIFY mail2ticket_events {"event":"contact_bouncing","contact_id":…,"email":…,"status":…} when a delivery report marks an address.';
CREATE TRIGGER contacts_notify_bouncing AFTER UPDATE ON contacts
	REFERENCING OLD TABLE AS m2t_old_contacts NEW TABLE AS m2t_new_contacts
	FOR EACH STATEMENT EXECUTE FUNCTION m2t_notify_contact_bouncing();
