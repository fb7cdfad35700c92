-- Step 1 of deploy/mysql/README.md: artistbot's database, and the admin account that
-- creates and upgrades its schema (`artistbot migrate`).
--
-- Placeholders, replaced by the README's `render` before this runs (the tests
-- substitute them the same way):
--   @DATABASE@        the database, e.g. artistbot
--   @ADMIN_PASSWORD@  the admin account's password
-- Run as a server administrator (`sudo mariadb`, `mysql -u root -p`), once per server.
--
-- Why an account of its own rather than root: `artistbot migrate` connects over TCP,
-- and root on Debian's and Homebrew's MariaDB only logs in through the Unix socket.
-- This one may do anything to artistbot's database and nothing to any other.
-- '127.0.0.1': `artistbot migrate` runs on the database machine and connects to
-- 127.0.0.1 (with skip-name-resolve, 'localhost' matches socket connections only).

CREATE DATABASE IF NOT EXISTS `@DATABASE@` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

CREATE USER IF NOT EXISTS 'artistbot_admin'@'127.0.0.1' IDENTIFIED BY '@ADMIN_PASSWORD@';
GRANT ALL PRIVILEGES ON `@DATABASE@`.* TO 'artistbot_admin'@'127.0.0.1';
