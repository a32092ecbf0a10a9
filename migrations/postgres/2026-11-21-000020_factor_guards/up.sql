-- What changes at every use of a factor, kept apart from the factor itself: the
-- throttle on wrong proofs (attempts in the current window) and the last TOTP time
-- step accepted (a step is never accepted twice).
CREATE TABLE factor_guards (
    factor_id         TEXT   NOT NULL PRIMARY KEY REFERENCES factors (id) ON DELETE CASCADE,
    attempts          BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    last_step         BIGINT
);
