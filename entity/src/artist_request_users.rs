//! `artist_request_users`: which users asked for a requested name, and when. User ids
//! are stored hashed (`user_key`): enough to count distinct users and to limit how much
//! one user can ask, without keeping Kakao's ids.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artist_request_users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub query_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_key: String,
    pub asked_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
