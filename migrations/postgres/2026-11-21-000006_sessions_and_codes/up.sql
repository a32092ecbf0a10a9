-- Browser sessions and authorization codes; both keyed by hashes of their secrets.
CREATE TABLE sessions (
    id           TEXT   NOT NULL PRIMARY KEY,
    account_id   TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash   TEXT   NOT NULL,
    amr          TEXT   NOT NULL,
    acr          TEXT   NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    user_agent   TEXT,
    ip           TEXT,
    CONSTRAINT sessions_token_key UNIQUE (token_hash)
);
CREATE INDEX sessions_account_idx ON sessions (account_id);

CREATE TABLE authorization_codes (
    code_hash      TEXT   NOT NULL PRIMARY KEY,
    client_id      TEXT   NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    account_id     TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id     TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_uri   TEXT   NOT NULL,
    scopes         TEXT   NOT NULL,
    nonce          TEXT,
    code_challenge TEXT   NOT NULL,
    auth_time      BIGINT NOT NULL,
    amr            TEXT   NOT NULL,
    acr            TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
