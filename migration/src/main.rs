//! `cargo run -p migration -- up|down|status|fresh|...`: sea-orm's migration CLI for the
//! artistbot schema. `DATABASE_URL` defaults to the same SQLite file as `artistbot`.

use sea_orm_migration::prelude::*;

fn main() {
    // The default applies only when neither the environment nor `.env` names a database.
    dotenvy::dotenv().ok();
    if std::env::var_os("DATABASE_URL").is_none() {
        // SAFETY: still single-threaded; the runtime and its threads start below.
        unsafe { std::env::set_var("DATABASE_URL", migration::DEFAULT_DATABASE_URL) };
    }
    tokio::runtime::Runtime::new()
        .expect("cannot start the tokio runtime")
        .block_on(cli::run_cli(migration::Migrator));
}
