//! `provider_state`: what each upstream lets this app do, persisted across runs:
//! which Spotify endpoints answer, and until when a provider is blocked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_state")]
pub struct Model {
    /// `spotify` or `deezer`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// An endpoint family (`artists_batch`, `top_tracks`, `related_artists`) or `access`
    /// for the provider as a whole (quota blocks).
    #[sea_orm(primary_key, auto_increment = false)]
    pub feature: String,
    /// NULL while unknown.
    pub available: Option<bool>,
    pub blocked_until: Option<DateTime>,
    pub checked_at: DateTime,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
