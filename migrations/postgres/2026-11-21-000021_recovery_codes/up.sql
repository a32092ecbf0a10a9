-- Recovery codes: only a keyed hash of each code; a set belongs to one factor row
-- and dies with it when a new set is made.
CREATE TABLE recovery_codes (
    id        TEXT   NOT NULL PRIMARY KEY,
    factor_id TEXT   NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
    code_hash TEXT   NOT NULL,
    used_at   BIGINT
);
CREATE INDEX recovery_codes_factor_idx ON recovery_codes (factor_id);
