-- notary-server metadata database for MySQL/MariaDB.
--
-- Creates the schema the reference notary-server ends up with after all of
-- its MySQL migrations (0001..0005): table tuf_files (unique key `gun` on
-- (gun, role, version), index on sha256), change_category with its two rows,
-- and changefeed.  The golang-migrate bookkeeping table is filled in as
-- "version 5, clean", so the reference's migrate tool treats a database made
-- here as already migrated and the two implementations can share it.
--
-- Idempotent: safe to load again on an existing database.
-- Load as an administrative user:  mariadb < server-mysql.sql
-- then grant the service user:     mariadb < server-mysql-user.sql

CREATE DATABASE IF NOT EXISTS `notaryserver` DEFAULT CHARACTER SET utf8;
USE `notaryserver`;

CREATE TABLE IF NOT EXISTS `tuf_files` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `created_at` timestamp NULL DEFAULT NULL,
  `updated_at` timestamp NULL DEFAULT NULL,
  `deleted_at` timestamp NULL DEFAULT NULL,
  `gun` varchar(255) NOT NULL,
  `role` varchar(255) NOT NULL,
  `version` int(11) NOT NULL,
  `data` longblob NOT NULL,
  `sha256` char(64) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `gun` (`gun`, `role`, `version`),
  INDEX `sha256` (`sha256`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS `change_category` (
  `category` VARCHAR(20) NOT NULL,
  PRIMARY KEY (`category`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

INSERT IGNORE INTO `change_category` (`category`) VALUES ('update'), ('deletion');

CREATE TABLE IF NOT EXISTS `changefeed` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `created_at` timestamp DEFAULT CURRENT_TIMESTAMP,
  `gun` varchar(255) NOT NULL,
  `version` int(11) NOT NULL,
  `sha256` CHAR(64) DEFAULT NULL,
  `category` VARCHAR(20) NOT NULL DEFAULT 'update',
  PRIMARY KEY (`id`),
  FOREIGN KEY (`category`) REFERENCES `change_category` (`category`),
  INDEX `idx_changefeed_gun` (`gun`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

CREATE TABLE IF NOT EXISTS `schema_migrations` (
  `version` bigint NOT NULL,
  `dirty` boolean NOT NULL,
  PRIMARY KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

INSERT INTO `schema_migrations` (`version`, `dirty`)
  SELECT 5, FALSE FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM `schema_migrations`);
