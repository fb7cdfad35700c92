-- The account artistbot's daemon and `artistbot sync` run as: only the rights the sync
-- needs on artistbot's own tables, and no DDL. The schema is created and upgraded by a
-- separate admin account (`artistbot migrate` with an admin DATABASE_URL).
--
-- Run as an admin AFTER `artistbot migrate`, once per server (the account) and again
-- whenever a migration adds a table:
--   mysql -u root -p < deploy/mysql/sync-grants.sql
-- Replace CHANGE_ME with a long random password first (and keep it only in the daemon's
-- environment file), and `artistbot` with your database name if it differs.
-- 'localhost' matches socket connections (and TCP from 127.0.0.1 unless the server runs
-- with skip-name-resolve); for a daemon on another host, use its address instead.
--
-- The runner lock (GET_LOCK / RELEASE_LOCK / IS_USED_LOCK) needs no privilege.
-- tests/it/daemon.rs applies exactly these statements and runs a sync with them.

CREATE USER IF NOT EXISTS 'artistbot_sync'@'localhost' IDENTIFIED BY 'CHANGE_ME';

-- Catalog: rows are upserted (INSERT ... ON DUPLICATE KEY UPDATE needs both rights).
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`artists` TO 'artistbot_sync'@'localhost';
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`artist_aliases` TO 'artistbot_sync'@'localhost';
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`deezer_artists` TO 'artistbot_sync'@'localhost';
-- An artist's top tracks and related artists are replaced in one transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON `artistbot`.`top_tracks` TO 'artistbot_sync'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `artistbot`.`related_artists` TO 'artistbot_sync'@'localhost';

-- Bookkeeping: run history, what the providers allow, the request queue.
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`sync_runs` TO 'artistbot_sync'@'localhost';
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`provider_state` TO 'artistbot_sync'@'localhost';
GRANT SELECT, INSERT, UPDATE ON `artistbot`.`artist_requests` TO 'artistbot_sync'@'localhost';

-- Read-only: the daemon checks that the schema is up to date before it works.
GRANT SELECT ON `artistbot`.`seaql_migrations` TO 'artistbot_sync'@'localhost';
