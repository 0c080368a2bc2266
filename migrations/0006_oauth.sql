-- 0006_oauth: OAuth2 tokens of the accounts that log in with them.
--
-- One row per account (the configuration's account name). The refresh
-- token is the account's long-lived credential: providers rotate it (the
-- token endpoint answers a refresh with a new one and may invalidate the
-- old), so every rotation must be saved before the access token is used,
-- and two daemons refreshing at once must not lose one. engine/auth does:
--   BEGIN; lock the row (INSERT .. ON CONFLICT DO UPDATE .. RETURNING, or
--   SELECT .. FOR UPDATE); if another process refreshed meanwhile, use its
--   access token; else call the token endpoint; UPDATE .. WHERE generation
--   = the one read (compare-and-swap); COMMIT.
-- The lock is held for the length of one token request (bounded by the
-- account's timeouts; waiters give up after lock_timeout and retry later).
--
-- SECURITY: the table holds secrets (refresh and access tokens). Grant it
-- to mail2ticket's role only; the help desk front end has no use for it.

CREATE TABLE oauth_tokens (
	account           text PRIMARY KEY,
	client_id         text,
	refresh_token     text,
	access_token      text,
	access_expires_at timestamptz,
	last_refresh_at   timestamptz,
	last_error        text,
	last_error_at     timestamptz,
	generation        bigint NOT NULL DEFAULT 0,
	updated_at        timestamptz NOT NULL DEFAULT now(),
	CHECK ((access_token IS NULL) = (access_expires_at IS NULL))
);
COMMENT ON TABLE oauth_tokens IS
	'OAuth2 tokens per account (engine/auth). Holds secrets: readable by mail2ticket only. Rows are locked while a token is refreshed, so concurrent daemons keep the newest rotated refresh token.';
COMMENT ON COLUMN oauth_tokens.account IS 'Account name from the configuration.';
COMMENT ON COLUMN oauth_tokens.client_id IS 'The OAuth2 client (application) id the refresh token was issued to; a token of another client is not used.';
COMMENT ON COLUMN oauth_tokens.refresh_token IS 'Current refresh token (delegated flow); NULL before `mail2ticket oauth login` and for the client-credentials flow.';
COMMENT ON COLUMN oauth_tokens.access_token IS 'Cached access token; NULL when none is valid.';
COMMENT ON COLUMN oauth_tokens.access_expires_at IS 'When the cached access token expires (from expires_in).';
COMMENT ON COLUMN oauth_tokens.last_refresh_at IS 'Last successful token request.';
COMMENT ON COLUMN oauth_tokens.last_error IS 'Why the last token request failed (e.g. "invalid_grant: ..."), without any token; NULL after a success.';
COMMENT ON COLUMN oauth_tokens.last_error_at IS 'When last_error happened.';
COMMENT ON COLUMN oauth_tokens.generation IS 'Incremented by every change of the tokens: an UPDATE names the generation it read (compare-and-swap).';
COMMENT ON COLUMN oauth_tokens.updated_at IS 'Last change of the row.';
