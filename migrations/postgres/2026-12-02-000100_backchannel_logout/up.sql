-- OpenID Connect Back-Channel Logout 1.0: where a client wants logout tokens, and
-- whether it needs `sid` in them.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

-- The clients a session has been issued a code for: who hears of its end. Codes are
-- purged after a day and not every client gets refresh tokens, so neither tells.
CREATE TABLE session_clients (
    session_id TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

-- Logout notices to deliver, queued in the transaction that ends the session; a
-- worker leases them like the mail outbox. The token is built when it is sent.
CREATE TABLE logout_notices (
    id              TEXT    NOT NULL PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    session_id      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
-- What a worker claims: pending notices by due time.
CREATE INDEX logout_notices_due ON logout_notices (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
-- What the purge deletes.
CREATE INDEX logout_notices_done ON logout_notices (created_at)
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;
