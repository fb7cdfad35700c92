//! `provider_state`: which upstream features this app may use and until when a provider
//! is blocked, kept across runs so a quota block is honoured by the next run too.

use chrono::NaiveDateTime;
use entity::provider_state;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

use super::{Store, StoreError};

/// One provider feature's persisted state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureState {
    pub provider: String,
    pub feature: String,
    /// `None` while unknown.
    pub available: Option<bool>,
    pub blocked_until: Option<NaiveDateTime>,
    pub checked_at: NaiveDateTime,
    pub detail: Option<String>,
}

impl Store {
    pub async fn provider_states(&self) -> Result<Vec<FeatureState>, StoreError> {
        let rows = provider_state::Entity::find()
            .order_by_asc(provider_state::Column::Provider)
            .order_by_asc(provider_state::Column::Feature)
            .all(self.db())
            .await
            .map_err(StoreError::query("reading provider state"))?;
        Ok(rows
            .into_iter()
            .map(|m| FeatureState {
                provider: m.provider,
                feature: m.feature,
                available: m.available,
                blocked_until: m.blocked_until,
                checked_at: m.checked_at,
                detail: m.detail,
            })
            .collect())
    }

    pub(crate) async fn save_provider_state(&self, state: &FeatureState) -> Result<(), StoreError> {
        let row = provider_state::ActiveModel {
            provider: Set(state.provider.clone()),
            feature: Set(state.feature.clone()),
            available: Set(state.available),
            blocked_until: Set(state.blocked_until),
            checked_at: Set(state.checked_at),
            detail: Set(state.detail.as_ref().map(|d| d.chars().take(512).collect())),
        };
        use provider_state::Column as C;
        provider_state::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::Provider, C::Feature])
                    .update_columns([C::Available, C::BlockedUntil, C::CheckedAt, C::Detail])
                    .to_owned(),
            )
            .exec_without_returning(self.db())
            .await
            .map_err(StoreError::query("saving provider state"))?;
        Ok(())
    }
}
