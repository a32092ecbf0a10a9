-- The janitor deletes by expiry: these tables grow with every login until it does,
-- and it must find what expired without reading the rest.
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
CREATE INDEX push_challenges_expires_idx ON push_challenges (expires_at);
CREATE INDEX used_client_assertions_expires_idx ON used_client_assertions (expires_at);
