-- WebAuthn credentials: one per factor row (security_key, passkey, platform). The
-- credential id is unique across all accounts: one authenticator credential can
-- never belong to two accounts.
CREATE TABLE webauthn_credentials (
    factor_id       TEXT    NOT NULL PRIMARY KEY REFERENCES factors (id) ON DELETE CASCADE,
    account_id      TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id   TEXT    NOT NULL UNIQUE,
    credential      TEXT    NOT NULL,
    aaguid          TEXT,
    transports      TEXT    NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    counter         BIGINT  NOT NULL,
    discoverable    BOOLEAN NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX webauthn_credentials_account_idx ON webauthn_credentials (account_id);

-- Started WebAuthn ceremonies: the server-side state, taken (deleted) once, short-lived.
CREATE TABLE webauthn_ceremonies (
    id         TEXT   NOT NULL PRIMARY KEY,
    binding    TEXT   NOT NULL UNIQUE,
    account_id TEXT,
    state      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry_idx ON webauthn_ceremonies (expires_at);
