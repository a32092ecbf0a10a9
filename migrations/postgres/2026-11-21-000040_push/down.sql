DROP TABLE push_challenges;
DROP TABLE push_devices;
