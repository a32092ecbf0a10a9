-- Push approval. A device is the phone behind one push factor (its id is the
-- factor's id): created with a single-use enrolment ticket (a keyed hash only),
-- registered when the phone presents it with its ES256 public key.
CREATE TABLE push_devices (
    factor_id         TEXT   NOT NULL PRIMARY KEY REFERENCES factors (id) ON DELETE CASCADE,
    account_id        TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ticket_hash       TEXT   NOT NULL UNIQUE,
    ticket_expires_at BIGINT NOT NULL,
    public_jwk        TEXT,
    push_token        TEXT,
    name              TEXT,
    registered_at     BIGINT
);
-- A login waiting for the phone: the number the login screen shows, the three the
-- phone offers, and the answer.
CREATE TABLE push_challenges (
    id               TEXT   NOT NULL PRIMARY KEY,
    factor_id        TEXT   NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
    account_id       TEXT   NOT NULL,
    login_request_id TEXT   NOT NULL,
    client_id        TEXT   NOT NULL,
    number           BIGINT NOT NULL,
    candidates       TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    answered_at      BIGINT
);
CREATE INDEX push_challenges_factor_idx ON push_challenges (factor_id, status);
CREATE INDEX push_challenges_login_idx ON push_challenges (login_request_id);
