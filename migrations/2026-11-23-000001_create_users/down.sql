DROP TABLE consumed_login_states;
DROP TABLE users;
