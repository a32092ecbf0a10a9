-- Logins in progress: a validated authorization request bound to one browser.
CREATE TABLE login_requests (
    id             TEXT    NOT NULL PRIMARY KEY,
    client_id      TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    state          TEXT,
    nonce          TEXT,
    code_challenge TEXT    NOT NULL,
    prompt_none    BOOLEAN NOT NULL,
    prompt_login   BOOLEAN NOT NULL,
    max_age        BIGINT,
    acr_values     TEXT    NOT NULL,
    login_hint     TEXT,
    ui_locales     TEXT,
    browser_hash   TEXT    NOT NULL,
    account_id     TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    amr            TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    completed_at   BIGINT
);
CREATE INDEX login_requests_expires_idx ON login_requests (expires_at);
