DROP TABLE otp_challenges;
