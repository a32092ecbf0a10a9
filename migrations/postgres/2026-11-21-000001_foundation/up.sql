-- Accounts, their second factors, and the audit log. Instants are Unix milliseconds
-- (BIGINT), identifiers UUID text: the common ground of SQLite and PostgreSQL.

CREATE TABLE accounts (
    id                         TEXT    NOT NULL PRIMARY KEY,
    subject                    TEXT    NOT NULL,
    email                      TEXT,
    email_normalized           TEXT,
    email_verified             BOOLEAN NOT NULL DEFAULT FALSE,
    legacy_username            TEXT,
    legacy_username_normalized TEXT,
    given_name                 TEXT,
    family_name                TEXT,
    locale                     TEXT,
    zoneinfo                   TEXT,
    status                     TEXT    NOT NULL,
    password_hash              TEXT,
    created_at                 BIGINT  NOT NULL,
    updated_at                 BIGINT  NOT NULL,
    CONSTRAINT accounts_subject_key UNIQUE (subject),
    CONSTRAINT accounts_email_key UNIQUE (email_normalized),
    CONSTRAINT accounts_username_key UNIQUE (legacy_username_normalized)
);

CREATE TABLE factors (
    id           TEXT   NOT NULL PRIMARY KEY,
    account_id   TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind         TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    label        TEXT,
    public_data  TEXT,
    secret       BYTEA,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX factors_account_idx ON factors (account_id);

-- No foreign key to accounts: the trail outlives a deleted account.
CREATE TABLE audit_events (
    sequence   BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT,
    kind       TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT    NOT NULL
);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, sequence);
