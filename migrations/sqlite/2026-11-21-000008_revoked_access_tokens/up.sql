-- Access tokens are self-contained JWTs: a revoked one is remembered by its jti
-- until it would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_idx ON revoked_access_tokens (expires_at);
