//! `artist_requests`: names users asked for that the catalog did not know. The skill
//! endpoint records them (its only write); the daemon onboards them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artist_requests")]
pub struct Model {
    /// The folded name: many users asking for one name make one request.
    #[sea_orm(primary_key, auto_increment = false)]
    pub query_key: String,
    /// The spelling first asked for.
    pub query: String,
    /// `pending`, `done`, `not_found`, `failed`.
    pub status: String,
    pub times_asked: i32,
    pub first_asked_at: DateTime,
    pub last_asked_at: DateTime,
    pub attempts: i32,
    /// Not to be tried before this time (growing delays after misses).
    pub next_attempt_at: Option<DateTime>,
    /// The artist the request resolved to.
    pub artist_id: Option<String>,
    pub last_error: Option<String>,
    pub resolved_at: Option<DateTime>,
    /// Distinct users who asked (the queue works by demand).
    pub users_asked: i32,
    /// The artist a provider's best hit suggests for this spelling, without the evidence
    /// that would make the spelling an alias; the skill offers it as a suggestion.
    pub candidate_artist_id: Option<String>,
    /// The artist a user tapped among the suggestions after asking for this spelling.
    pub tapped_artist_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
