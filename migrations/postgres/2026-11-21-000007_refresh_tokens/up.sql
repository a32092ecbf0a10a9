-- Rotating refresh tokens, grouped in families (one per login) for reuse detection.
CREATE TABLE refresh_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    family_id  TEXT   NOT NULL,
    client_id  TEXT   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    scopes     TEXT   NOT NULL,
    auth_time  BIGINT NOT NULL,
    amr        TEXT   NOT NULL,
    acr        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
