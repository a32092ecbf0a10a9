-- Account self-service: analytics consent, the tombstone of an erased account,
-- e-mail changes waiting for the code sent to the new address, and the links that
-- let the old address undo a change (72 hours, single use). Codes and links are
-- stored as keyed hashes only.
ALTER TABLE accounts ADD COLUMN analytics_consent BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE accounts ADD COLUMN deleted_at BIGINT;

CREATE TABLE email_changes (
    id         TEXT   NOT NULL PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    new_email  TEXT   NOT NULL,
    code_hash  TEXT   NOT NULL,
    attempts   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    closed_at  BIGINT
);
CREATE INDEX email_changes_account_idx ON email_changes (account_id, created_at);

CREATE TABLE email_undo_tokens (
    token_hash         TEXT    NOT NULL PRIMARY KEY,
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    old_email          TEXT    NOT NULL,
    old_email_verified BOOLEAN NOT NULL,
    new_email          TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    used_at            BIGINT
);
CREATE INDEX email_undo_tokens_account_idx ON email_undo_tokens (account_id);
