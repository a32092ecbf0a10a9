ALTER TABLE clients DROP COLUMN refresh_without_offline_access;
ALTER TABLE authorization_codes DROP COLUMN claims;
ALTER TABLE login_requests DROP COLUMN claims;
ALTER TABLE login_requests DROP COLUMN prompt_consent;
ALTER TABLE login_requests DROP COLUMN session_id;
DROP TABLE consent_grants;
