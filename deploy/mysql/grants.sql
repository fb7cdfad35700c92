-- Step 3 of deploy/mysql/README.md: the KakaoTalk skill endpoint's account (the Lambda
-- or `artistbot serve`), with only what it needs.
--
-- Placeholders, replaced by the README's `render` before this runs (the tests
-- substitute them the same way):
--   @DATABASE@        the database, e.g. artistbot
--   @SKILL_HOST@      where the endpoint connects from: 127.0.0.1 for `artistbot serve`
--                     on the database machine; for the Lambda, the Elastic IP of its NAT
--                     gateway (see the README's "The Lambda and a MySQL at home")
--   @SKILL_PASSWORD@  the account's password
--   @SKILL_TLS@       SSL whenever it connects over a network (the Lambda), else NONE
-- Run as a server administrator AFTER `artistbot migrate` (a table grant needs the
-- table). CREATE USER IF NOT EXISTS keeps the password and TLS requirement of an
-- account that already exists.
--
-- Reads the catalog; its only write is recording names it did not know. A leaked
-- credential of the endpoint cannot change, add or remove catalog data.
-- tests/it/skill/grants.rs applies exactly these statements and checks replies work
-- and catalog writes are refused; tests/it/tls.rs does it with REQUIRE SSL.

CREATE USER IF NOT EXISTS 'artistbot_skill'@'@SKILL_HOST@'
    IDENTIFIED BY '@SKILL_PASSWORD@' REQUIRE @SKILL_TLS@;
GRANT SELECT ON `@DATABASE@`.`artists` TO 'artistbot_skill'@'@SKILL_HOST@';
GRANT SELECT ON `@DATABASE@`.`artist_aliases` TO 'artistbot_skill'@'@SKILL_HOST@';
GRANT SELECT ON `@DATABASE@`.`top_tracks` TO 'artistbot_skill'@'@SKILL_HOST@';
GRANT SELECT ON `@DATABASE@`.`related_artists` TO 'artistbot_skill'@'@SKILL_HOST@';
-- A miss inserts a new pending request row...
GRANT INSERT ON `@DATABASE@`.`artist_requests` TO 'artistbot_skill'@'@SKILL_HOST@';
-- ...and a repeated miss counts on the existing row (UPDATE ... SET times_asked =
-- times_asked + 1, last_asked_at = ..., and users_asked = users_asked + 1 for a user
-- new to the name, WHERE query_key = ...); a user who asked for a name and then tapped
-- a suggested artist sets tapped_artist_id (the daemon decides what it is worth).
-- UPDATE on exactly those four columns, so the endpoint cannot touch a request's
-- status, spelling or outcome, which belong to the daemon. SELECT on the columns those
-- updates read, and on the two the cap on open requests counts by (status,
-- next_attempt_at; REQUESTS_MAX_PENDING), and candidate_artist_id: the likely artist
-- the daemon found for a spelling, offered first as a suggestion when it is asked again.
-- Nothing else of the table is readable. (An
-- upsert, INSERT ... ON DUPLICATE KEY UPDATE, would need UPDATE on every column it
-- inserts, so the store counts first and inserts after.)
GRANT UPDATE (`times_asked`, `last_asked_at`, `users_asked`, `tapped_artist_id`) ON `@DATABASE@`.`artist_requests` TO 'artistbot_skill'@'@SKILL_HOST@';
GRANT SELECT (`query_key`, `times_asked`, `users_asked`, `status`, `next_attempt_at`, `candidate_artist_id`) ON `@DATABASE@`.`artist_requests` TO 'artistbot_skill'@'@SKILL_HOST@';
-- Who asked for what (hashed user ids): a user's first ask of a name adds a row; the
-- endpoint reads whether this user asked for the name before and how many names they
-- added lately (REQUESTS_PER_USER_PER_DAY). Rows are never updated by the endpoint, and
-- deleted only by the daemon.
GRANT INSERT ON `@DATABASE@`.`artist_request_users` TO 'artistbot_skill'@'@SKILL_HOST@';
GRANT SELECT (`query_key`, `user_key`, `asked_at`) ON `@DATABASE@`.`artist_request_users` TO 'artistbot_skill'@'@SKILL_HOST@';
