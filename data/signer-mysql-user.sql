-- Least-privilege account for notary-signer (signer-storage.md §2-3).
--
-- The signer reads keys, inserts new ones and deletes them: SELECT, INSERT
-- and DELETE on its own database, nothing else.  Without UPDATE the
-- reference signer can never mark a key used (its rotation silently keeps
-- the old key); ours marks a key used by replacing its row inside one
-- transaction (DELETE + INSERT), which needs no more than this grant.
-- The password is empty as in the reference's development setup: set one
-- for production with  ALTER USER 'signer'@'%' IDENTIFIED BY '...';
-- and put it in storage.db_url.

CREATE USER IF NOT EXISTS 'signer'@'%';
CREATE USER IF NOT EXISTS 'signer'@'localhost';
GRANT SELECT, INSERT, DELETE ON `notarysigner`.* TO 'signer'@'%';
GRANT SELECT, INSERT, DELETE ON `notarysigner`.* TO 'signer'@'localhost';
FLUSH PRIVILEGES;
