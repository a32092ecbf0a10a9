DROP TABLE audit_events;
DROP TABLE factors;
DROP TABLE accounts;
