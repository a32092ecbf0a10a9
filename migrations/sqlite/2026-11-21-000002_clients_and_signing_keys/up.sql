-- OAuth clients and the provider's token-signing keys. List-valued client fields are
-- JSON arrays in TEXT; private keys are sealed (AES-256-GCM) before they are stored.

CREATE TABLE clients (
    id                        TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    grant_types               TEXT    NOT NULL,
    scopes                    TEXT    NOT NULL,
    auth_method               TEXT    NOT NULL,
    jwks                      TEXT,
    id_token_alg              TEXT    NOT NULL,
    first_party               BOOLEAN NOT NULL,
    access_token_ttl          BIGINT  NOT NULL,
    id_token_ttl              BIGINT  NOT NULL,
    refresh_token_ttl         BIGINT  NOT NULL,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);

CREATE TABLE signing_keys (
    kid                TEXT   NOT NULL PRIMARY KEY,
    alg                TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    sealed_private_key BLOB   NOT NULL,
    public_jwk         TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    activated_at       BIGINT,
    expires_at         BIGINT
);
