//! What a MySQL/MariaDB account may do on artistbot's tables, judged from `GRANT`
//! statements: the server's `SHOW GRANTS` lines for the account, against the statements
//! of `deploy/mysql/sync-grants.sql` (the sync account) and `deploy/mysql/grants.sql`
//! (the skill account), read when the binary is built, so the check moves with the files
//! operators apply.
//!
//! It reads statement text only; it never prints a grant line (MariaDB's carry the
//! password hash).

/// The sync account's grants, as the operator applies them.
const SYNC_GRANTS_SQL: &str = include_str!("../../deploy/mysql/sync-grants.sql");
/// The skill account's grants.
const SKILL_GRANTS_SQL: &str = include_str!("../../deploy/mysql/grants.sql");

/// An account's job, with the file that grants what it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `sync`, `add`, `daemon`, `import`: `deploy/mysql/sync-grants.sql`.
    Sync,
    /// `serve` and the Lambda: `deploy/mysql/grants.sql`.
    Skill,
}

impl Role {
    pub(crate) fn file(self) -> &'static str {
        match self {
            Role::Sync => "deploy/mysql/sync-grants.sql",
            Role::Skill => "deploy/mysql/grants.sql",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Role::Sync => SYNC_GRANTS_SQL,
            Role::Skill => SKILL_GRANTS_SQL,
        }
    }
}

/// Where a grant applies.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    Global,
    Database(String),
    Table { database: String, table: String },
}

/// One privilege of a grant: `SELECT`, or `SELECT (a, b)` on some columns only.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Privilege {
    name: String,
    columns: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Grant {
    privileges: Vec<Privilege>,
    scope: Scope,
}

/// What `account` lacks of `role`'s grants on `database`, worded per table
/// ("INSERT, UPDATE on artists"); empty when it has everything.
pub(crate) fn missing_for(role: Role, granted: &[String], database: &str) -> Vec<String> {
    let held: Vec<Grant> = granted
        .iter()
        .filter_map(|line| parse_grant(line))
        .collect();
    let mut missing: Vec<(String, Vec<String>)> = Vec::new();
    for need in statements(role.sql()).filter_map(|s| parse_grant(&s)) {
        let Scope::Table { table, .. } = &need.scope else {
            continue;
        };
        for privilege in &need.privileges {
            if !holds(&held, privilege, database, table) {
                let shown = match &privilege.columns {
                    Some(columns) => format!("{} ({})", privilege.name, columns.join(", ")),
                    None => privilege.name.clone(),
                };
                match missing.iter_mut().find(|(t, _)| t == table) {
                    Some((_, privileges)) => privileges.push(shown),
                    None => missing.push((table.clone(), vec![shown])),
                }
            }
        }
    }
    missing
        .into_iter()
        .map(|(table, privileges)| format!("{} on {table}", privileges.join(", ")))
        .collect()
}

/// Whether the account holds every privilege on `database` (an administrator).
pub(crate) fn holds_everything(granted: &[String], database: &str) -> bool {
    granted
        .iter()
        .filter_map(|line| parse_grant(line))
        .any(|grant| {
            covers_database(&grant.scope, database)
                && grant.privileges.iter().any(|p| p.name == "ALL")
        })
}

/// Whether the account may read `database`.`table` (SELECT on it, or more widely).
pub(crate) fn may_read(granted: &[String], database: &str, table: &str) -> bool {
    let held: Vec<Grant> = granted
        .iter()
        .filter_map(|line| parse_grant(line))
        .collect();
    let select = Privilege {
        name: "SELECT".into(),
        columns: None,
    };
    holds(&held, &select, database, table)
}

fn covers_database(scope: &Scope, database: &str) -> bool {
    match scope {
        Scope::Global => true,
        Scope::Database(name) => name == database,
        Scope::Table { .. } => false,
    }
}

/// Whether `held` grants `need` on `database`.`table`: the privilege (or ALL) on the
/// server, the database or the table, or, for a need on some columns, on at least those.
fn holds(held: &[Grant], need: &Privilege, database: &str, table: &str) -> bool {
    held.iter().any(|grant| {
        let applies = match &grant.scope {
            Scope::Table {
                database: d,
                table: t,
            } => d == database && t == table,
            other => covers_database(other, database),
        };
        applies
            && grant.privileges.iter().any(|p| {
                p.name == "ALL"
                    || (p.name == need.name
                        && match (&p.columns, &need.columns) {
                            (None, _) => true,
                            (Some(have), Some(want)) => want.iter().all(|c| have.contains(c)),
                            (Some(_), None) => false,
                        })
            })
    })
}

/// The statements of an SQL file: `--` comments dropped, split at `;`.
fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|statement| !statement.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
}

/// `GRANT privileges ON object TO account ...`; `None` for anything else (a role
/// grant, `PROXY`, `CREATE USER`).
fn parse_grant(statement: &str) -> Option<Grant> {
    let statement = statement.trim();
    let rest = strip_prefix_ignore_case(statement, "GRANT ")?;
    let on = find_outside_quotes(rest, " ON ")?;
    let (privileges, after) = (&rest[..on], &rest[on + 4..]);
    let to = find_outside_quotes(after, " TO ")?;
    let object = after[..to].trim();
    let object = strip_prefix_ignore_case(object, "TABLE ").unwrap_or(object);
    let scope = parse_scope(object)?;
    let privileges = split_outside_parentheses(privileges)
        .into_iter()
        .map(|privilege| parse_privilege(&privilege))
        .collect();
    Some(Grant { privileges, scope })
}

fn parse_privilege(text: &str) -> Privilege {
    let (name, columns) = match text.split_once('(') {
        Some((name, columns)) => (
            name,
            Some(
                columns
                    .trim_end_matches(')')
                    .split(',')
                    .map(unquote)
                    .filter(|column| !column.is_empty())
                    .collect(),
            ),
        ),
        None => (text, None),
    };
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name.to_ascii_uppercase();
    Privilege {
        name: if name == "ALL PRIVILEGES" {
            "ALL".into()
        } else {
            name
        },
        columns,
    }
}

fn parse_scope(object: &str) -> Option<Scope> {
    let dot = find_outside_quotes(object, ".")?;
    let (database, table) = (object[..dot].trim(), object[dot + 1..].trim());
    Some(match (database, table) {
        ("*", "*") => Scope::Global,
        (database, "*") => Scope::Database(unquote(database)),
        (database, table) => Scope::Table {
            database: unquote(database),
            table: unquote(table),
        },
    })
}

/// A name without its quotes; MariaDB escapes `_` and `%` in database-level grants.
fn unquote(name: &str) -> String {
    name.trim()
        .trim_matches(|c| c == '`' || c == '\'' || c == '"')
        .replace("\\_", "_")
        .replace("\\%", "%")
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// The byte offset of `needle` (matched ignoring ASCII case) outside backticks and
/// quotes, where a name could hold it.
fn find_outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (offset, c) in text.char_indices() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if matches!(c, '`' | '\'' | '"') => quote = Some(c),
            None => {
                if text
                    .get(offset..offset + needle.len())
                    .is_some_and(|candidate| candidate.eq_ignore_ascii_case(needle))
                {
                    return Some(offset);
                }
            }
        }
    }
    None
}

/// `SELECT, INSERT, SELECT (a, b)` → its privileges, commas inside parentheses kept.
fn split_outside_parentheses(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current.trim().to_owned());
    parts.retain(|part| !part.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deploy file's grants as a server would list them for `database`.
    fn as_shown(role: Role, database: &str) -> Vec<String> {
        statements(role.sql())
            .filter(|s| s.to_ascii_uppercase().starts_with("GRANT "))
            .map(|s| s.replace("@DATABASE@", database))
            .collect()
    }

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn each_deploy_file_grants_its_role_everything_it_needs() {
        for role in [Role::Sync, Role::Skill] {
            assert_eq!(
                missing_for(role, &as_shown(role, "artistbot"), "artistbot"),
                Vec::<String>::new(),
                "{role:?}"
            );
        }
        assert!(
            !missing_for(Role::Sync, &as_shown(Role::Skill, "artistbot"), "artistbot").is_empty()
        );
    }

    #[test]
    fn grants_as_mariadb_shows_them_are_understood() {
        let shown = lines(&[
            "GRANT USAGE ON *.* TO `artistbot_skill`@`%` IDENTIFIED BY PASSWORD '*ABC'",
            "GRANT SELECT ON `artistbot`.`artists` TO `artistbot_skill`@`%`",
            "GRANT SELECT ON `artistbot`.`artist_aliases` TO `artistbot_skill`@`%`",
            "GRANT SELECT ON `artistbot`.`top_tracks` TO `artistbot_skill`@`%`",
            "GRANT SELECT ON `artistbot`.`related_artists` TO `artistbot_skill`@`%`",
            "GRANT SELECT (`next_attempt_at`, `status`, `times_asked`, `query_key`, `users_asked`, `candidate_artist_id`), INSERT, UPDATE (`last_asked_at`, `users_asked`, `tapped_artist_id`, `times_asked`) ON `artistbot`.`artist_requests` TO `artistbot_skill`@`%`",
            "GRANT SELECT (`asked_at`, `user_key`, `query_key`), INSERT ON `artistbot`.`artist_request_users` TO `artistbot_skill`@`%`",
        ]);
        assert_eq!(
            missing_for(Role::Skill, &shown, "artistbot"),
            Vec::<String>::new()
        );
        assert_eq!(
            missing_for(Role::Skill, &shown[..3], "artistbot"),
            [
                "SELECT on top_tracks",
                "SELECT on related_artists",
                "INSERT, UPDATE (times_asked, last_asked_at, users_asked, tapped_artist_id), SELECT (query_key, times_asked, users_asked, status, next_attempt_at, candidate_artist_id) on artist_requests",
                "INSERT, SELECT (query_key, user_key, asked_at) on artist_request_users"
            ]
        );
        assert!(!holds_everything(&shown, "artistbot"));
        assert!(may_read(&shown, "artistbot", "top_tracks"));
        assert!(!may_read(&shown, "artistbot", "seaql_migrations"));
        assert_eq!(
            missing_for(Role::Skill, &shown, "elsewhere").len(),
            6,
            "grants on another database do not count"
        );
    }

    #[test]
    fn all_privileges_on_the_server_or_the_database_cover_every_role() {
        for shown in [
            lines(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]),
            lines(&["GRANT ALL PRIVILEGES ON `artist\\_bot`.* TO `admin`@`%`"]),
        ] {
            assert!(holds_everything(&shown, "artist_bot"), "{shown:?}");
            assert!(missing_for(Role::Sync, &shown, "artist_bot").is_empty());
            assert!(missing_for(Role::Skill, &shown, "artist_bot").is_empty());
        }
        let database_wide =
            lines(&["GRANT SELECT, INSERT, UPDATE, DELETE ON `artistbot`.* TO `x`@`%`"]);
        assert!(missing_for(Role::Sync, &database_wide, "artistbot").is_empty());
        assert!(!holds_everything(&database_wide, "artistbot"));
    }
}
