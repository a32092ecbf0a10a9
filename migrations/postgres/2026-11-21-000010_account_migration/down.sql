DROP TABLE rate_limits;
DROP TABLE registration_tokens;
DROP TABLE account_migrations;
