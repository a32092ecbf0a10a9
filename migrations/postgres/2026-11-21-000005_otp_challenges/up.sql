-- E-mail one-time codes: only a keyed hash of each code is stored.
CREATE TABLE otp_challenges (
    id               TEXT   NOT NULL PRIMARY KEY,
    login_request_id TEXT   NOT NULL REFERENCES login_requests (id) ON DELETE CASCADE,
    account_id       TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash        TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    closed_at        BIGINT
);
CREATE INDEX otp_challenges_login_idx ON otp_challenges (login_request_id, created_at);
CREATE INDEX otp_challenges_account_idx ON otp_challenges (account_id, created_at);
