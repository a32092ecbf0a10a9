-- A mail that carries a one-time code or a link is not sent once what it carries has
-- expired: the worker marks it failed ("expired") instead.
ALTER TABLE mail_outbox ADD COLUMN expires_at BIGINT;
