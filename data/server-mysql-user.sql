-- Least-privilege account for notary-server (config-and-ops.md §10).
--
-- The server only reads and writes rows; it never creates or alters tables,
-- so SELECT, INSERT, UPDATE and DELETE on its own database are all it gets.
-- The password is empty as in the reference's development setup: set one
-- for production with  ALTER USER 'server'@'%' IDENTIFIED BY '...';
-- and put it in storage.db_url.

CREATE USER IF NOT EXISTS 'server'@'%';
CREATE USER IF NOT EXISTS 'server'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `notaryserver`.* TO 'server'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `notaryserver`.* TO 'server'@'localhost';
FLUSH PRIVILEGES;
