-- notary-signer key database for MySQL/MariaDB.
--
-- Creates the schema the reference notary-signer ends up with after its two
-- MySQL migrations (0001_initial, 0002_gun_role_on_keys; signer-storage.md
-- §2): table private_keys, with gun, role and last_used after `private`
-- because the reference adds them with ALTER TABLE.  The golang-migrate
-- bookkeeping table is filled in as "version 2, clean", so the reference's
-- migrate tool treats a database made here as already migrated and both
-- signers can share it.
--
-- Idempotent: safe to load again on an existing database.
-- Load as an administrative user:  mariadb < signer-mysql.sql
-- then grant the service user:     mariadb < signer-mysql-user.sql

CREATE DATABASE IF NOT EXISTS `notarysigner` DEFAULT CHARACTER SET utf8;
USE `notarysigner`;

CREATE TABLE IF NOT EXISTS `private_keys` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `deleted_at` timestamp NULL DEFAULT NULL,
  `key_id` varchar(255) NOT NULL,
  `encryption_alg` varchar(255) NOT NULL,
  `keywrap_alg` varchar(255) NOT NULL,
  `algorithm` varchar(50) NOT NULL,
  `passphrase_alias` varchar(50) NOT NULL,
  `public` blob NOT NULL,
  `private` blob NOT NULL,
  `gun` varchar(255) NOT NULL,
  `role` varchar(255) NOT NULL,
  `last_used` datetime NULL DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `key_id` (`key_id`),
  UNIQUE KEY `key_id_2` (`key_id`, `algorithm`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS `schema_migrations` (
  `version` bigint NOT NULL,
  `dirty` boolean NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

INSERT INTO `schema_migrations` (`version`, `dirty`)
  SELECT 2, FALSE FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM `schema_migrations`);
