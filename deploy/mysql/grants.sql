-- The skill endpoint's database user on MySQL / MariaDB, with only what it needs.
--
-- Placeholders, replaced before running (the tests substitute them the same way):
--   @DATABASE@        the catalog database, e.g. artistbot
--   @SKILL_PASSWORD@  the skill endpoint's password
-- Run as an administrator, for example:
--   sed -e 's/@DATABASE@/artistbot/g' -e "s/@SKILL_PASSWORD@/$SKILL_PASSWORD/g" \
--       deploy/mysql/grants.sql | mariadb -uroot
-- The schema itself is created by `artistbot migrate`, run by a user allowed to
-- create and alter tables (not by either user below).

-- ===== artistbot_skill: the KakaoTalk skill endpoint (Lambda or `artistbot serve`) ====
-- Reads the catalog; its only write is recording names it did not know. A leaked
-- credential of the endpoint cannot change, add or remove catalog data.
CREATE USER IF NOT EXISTS 'artistbot_skill'@'%' IDENTIFIED BY '@SKILL_PASSWORD@';
GRANT SELECT ON `@DATABASE@`.`artists` TO 'artistbot_skill'@'%';
GRANT SELECT ON `@DATABASE@`.`artist_aliases` TO 'artistbot_skill'@'%';
GRANT SELECT ON `@DATABASE@`.`top_tracks` TO 'artistbot_skill'@'%';
GRANT SELECT ON `@DATABASE@`.`related_artists` TO 'artistbot_skill'@'%';
GRANT INSERT, UPDATE ON `@DATABASE@`.`artist_requests` TO 'artistbot_skill'@'%';
-- A repeated miss updates the row in place (INSERT ... ON DUPLICATE KEY UPDATE
-- times_asked = times_asked + 1, last_asked_at = ...), and MariaDB wants SELECT on the
-- columns such an update names; nothing else of the table is readable.
GRANT SELECT (`times_asked`, `last_asked_at`) ON `@DATABASE@`.`artist_requests` TO 'artistbot_skill'@'%';

-- ===== artistbot_sync: the sync engine, the daemon and the import ====================
-- Its grants are in sync-grants.sql (rows of artistbot's own tables, no DDL).
