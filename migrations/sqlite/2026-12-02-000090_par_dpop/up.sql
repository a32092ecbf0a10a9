-- Pushed authorization requests (RFC 9126): what a client pushed, kept under a keyed
-- hash of its request_uri until /authorize takes it (once) or it expires.
CREATE TABLE pushed_authorization_requests (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    client_id  TEXT   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pushed_authorization_requests_expires_idx ON pushed_authorization_requests (expires_at);
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;
-- DPoP (RFC 9449): clients that must bind their tokens, and the key (RFC 7638
-- thumbprint) a public client's refresh tokens are bound to.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
