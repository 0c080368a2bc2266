-- 0002_preprocess: what preprocessing did to each mail (rules/preprocess.h).
--
-- articles.body_text is what agents read: the text after preprocessing
-- (quoted history, reply headers and signatures taken out). Nothing the
-- sender wrote is lost: body_original keeps the text before preprocessing,
-- and preprocess_trace says what each stage and rule removed, with the
-- rule's file:line:column and the removed text.
--
-- Schema only: m2t_ingest_batch fills the three columns as it inserts each
-- article; migrations/0004_sources.sql defines that function once, with
-- the arguments of every migration up to it.

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
