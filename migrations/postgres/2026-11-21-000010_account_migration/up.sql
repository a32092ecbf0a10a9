-- Migration of accounts from an old system: where each imported account stands,
-- the single-use registration links it was mailed, and shared throttling counters.

CREATE TABLE account_migrations (
    account_id       TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- imported | invited | registered ("expired" = invited with link_expires_at past)
    state            TEXT    NOT NULL,
    fingerprint      TEXT    NOT NULL,
    imported_at      BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    first_invited_at BIGINT,
    last_invited_at  BIGINT,
    invitations_sent INTEGER NOT NULL,
    link_expires_at  BIGINT,
    registered_at    BIGINT
);
CREATE INDEX account_migrations_state_idx ON account_migrations (state, updated_at);

CREATE TABLE registration_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    voided_at  BIGINT
);
CREATE INDEX registration_tokens_account_idx ON registration_tokens (account_id);

-- key is a keyed hash (it may name an address or an IP).
CREATE TABLE rate_limits (
    key          TEXT    NOT NULL PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    hits         INTEGER NOT NULL
);
