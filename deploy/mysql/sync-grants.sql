-- Step 3 of deploy/mysql/README.md: the account artistbot's daemon, `artistbot sync`
-- and `artistbot import` run as. Only the rights the sync needs on artistbot's own
-- tables, and no DDL: the schema belongs to the admin account (database.sql).
--
-- Placeholders, replaced by the README's `render` before this runs (the tests
-- substitute them the same way):
--   @DATABASE@       the database, e.g. artistbot
--   @SYNC_HOST@      where the daemon connects from: 127.0.0.1 on the database machine,
--                    else its address (with skip-name-resolve, 'localhost' matches
--                    socket connections only, and artistbot connects over TCP)
--   @SYNC_PASSWORD@  the account's password (it goes only into the daemon's env file)
--   @SYNC_TLS@       NONE on the database machine, SSL when it connects over a network
-- Run as a server administrator AFTER `artistbot migrate` (a table grant needs the
-- table), and again whenever a migration adds a table. CREATE USER IF NOT EXISTS keeps
-- the password and TLS requirement of an account that already exists.
--
-- The runner lock (GET_LOCK / RELEASE_LOCK / IS_USED_LOCK) needs no privilege.
-- tests/it/daemon.rs applies exactly these statements and runs a sync with them.

CREATE USER IF NOT EXISTS 'artistbot_sync'@'@SYNC_HOST@'
    IDENTIFIED BY '@SYNC_PASSWORD@' REQUIRE @SYNC_TLS@;

-- Catalog: rows are upserted (INSERT ... ON DUPLICATE KEY UPDATE needs both rights).
GRANT SELECT, INSERT, UPDATE ON `@DATABASE@`.`artists` TO 'artistbot_sync'@'@SYNC_HOST@';
GRANT SELECT, INSERT, UPDATE ON `@DATABASE@`.`artist_aliases` TO 'artistbot_sync'@'@SYNC_HOST@';
GRANT SELECT, INSERT, UPDATE ON `@DATABASE@`.`deezer_artists` TO 'artistbot_sync'@'@SYNC_HOST@';
-- An artist's top tracks and related artists are replaced in one transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.`top_tracks` TO 'artistbot_sync'@'@SYNC_HOST@';
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.`related_artists` TO 'artistbot_sync'@'@SYNC_HOST@';

-- Bookkeeping: run history, what the providers allow, the request queue.
GRANT SELECT, INSERT, UPDATE ON `@DATABASE@`.`sync_runs` TO 'artistbot_sync'@'@SYNC_HOST@';
GRANT SELECT, INSERT, UPDATE ON `@DATABASE@`.`provider_state` TO 'artistbot_sync'@'@SYNC_HOST@';
-- Requests past REQUESTS_RETENTION are deleted, with who asked for them.
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.`artist_requests` TO 'artistbot_sync'@'@SYNC_HOST@';
GRANT SELECT, DELETE ON `@DATABASE@`.`artist_request_users` TO 'artistbot_sync'@'@SYNC_HOST@';

-- Read-only: the daemon checks that the schema is up to date before it works.
GRANT SELECT ON `@DATABASE@`.`seaql_migrations` TO 'artistbot_sync'@'@SYNC_HOST@';
