ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt;
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
ALTER TABLE clients DROP COLUMN require_pushed_authorization_requests;
DROP TABLE pushed_authorization_requests;
