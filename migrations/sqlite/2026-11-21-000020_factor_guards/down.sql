DROP TABLE factor_guards;
