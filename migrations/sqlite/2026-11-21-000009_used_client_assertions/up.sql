-- private_key_jwt assertions are single use (RFC 7523 §3): each jti is remembered
-- until the assertion would have expired.
CREATE TABLE used_client_assertions (
    jti        TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
