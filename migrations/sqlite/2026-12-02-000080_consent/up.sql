-- What each user granted each third-party client: the scopes, remembered until revoked.
CREATE TABLE consent_grants (
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
-- A login whose user is signed in and only consent is missing: the session its code goes to.
ALTER TABLE login_requests ADD COLUMN session_id TEXT;
ALTER TABLE login_requests ADD COLUMN prompt_consent BOOLEAN NOT NULL DEFAULT FALSE;
-- The claims request parameter (OIDC Core 5.5), as the names asked for per member.
ALTER TABLE login_requests ADD COLUMN claims TEXT;
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
-- Refresh tokens without offline_access: today's behaviour, kept for first-party clients.
ALTER TABLE clients ADD COLUMN refresh_without_offline_access BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE clients SET refresh_without_offline_access = first_party;
