//! The connected account's own grants on MySQL/MariaDB (`SHOW GRANTS`), so `artistbot
//! doctor` can tell whether the account can do its job. Returned as the server words
//! them; judging them against what a role needs is the caller's business. The lines may
//! hold a password hash (MariaDB's `IDENTIFIED BY PASSWORD '*…'`): never print them.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{Store, StoreError};

/// Who the server says this connection is, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountGrants {
    /// `CURRENT_USER()`: the account the server matched, `name@host`.
    pub(crate) account: String,
    /// `DATABASE()`: the database of the URL, if it names one.
    pub(crate) database: Option<String>,
    /// Each line of `SHOW GRANTS`.
    pub(crate) grants: Vec<String>,
}

impl Store {
    /// The account's grants; `None` on SQLite, which has no accounts. `SHOW GRANTS` for
    /// one's own account needs no privilege.
    pub(crate) async fn account_grants(&self) -> Result<Option<AccountGrants>, StoreError> {
        if self.backend() != DbBackend::MySql {
            return Ok(None);
        }
        let identity = self
            .db()
            .query_one_raw(Statement::from_string(
                DbBackend::MySql,
                "SELECT CURRENT_USER(), DATABASE()",
            ))
            .await
            .map_err(StoreError::query("asking who this account is"))?;
        let (account, database) = match identity {
            Some(row) => (
                row.try_get_by_index::<String>(0)
                    .map_err(StoreError::query("reading CURRENT_USER()"))?,
                row.try_get_by_index::<Option<String>>(1)
                    .map_err(StoreError::query("reading DATABASE()"))?,
            ),
            None => (String::new(), None),
        };
        let rows = self
            .db()
            .query_all_raw(Statement::from_string(DbBackend::MySql, "SHOW GRANTS"))
            .await
            .map_err(StoreError::query("reading the account's grants"))?;
        let grants = rows
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::query("reading the account's grants"))?;
        Ok(Some(AccountGrants {
            account,
            database,
            grants,
        }))
    }
}
