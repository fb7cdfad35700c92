//! The refresh schedule: a cron expression with seconds, in an IANA time zone.
//!
//! Settings parse `SYNC_SCHEDULE` and `SYNC_TIMEZONE` into [`CronSchedule`], the daemon
//! hands it to tokio-cron-scheduler, and `status` shows its next fire time. It validates
//! with the parser tokio-cron-scheduler uses, so what is accepted and shown is what
//! fires. Part of the `config` leaf: it imports nothing from the crate.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// A parsed `SYNC_SCHEDULE` in its time zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    expression: String,
    timezone: Tz,
    cron: Cron,
}

/// The parser tokio-cron-scheduler uses, so that what is validated and shown is what
/// fires: seconds required, and day-of-month AND day-of-week when both are given.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
}

impl CronSchedule {
    /// Parses a 6-field cron expression (seconds first; an optional 7th field is the
    /// year). The error says what is wrong, for the configuration message.
    pub fn new(expression: &str, timezone: Tz) -> Result<Self, String> {
        let expression = expression.trim();
        let cron = parser().parse(expression).map_err(|error| {
            format!(
                "expected a cron expression with seconds, like \"0 0 3 * * *\" (03:00 daily), got {expression:?}: {error}"
            )
        })?;
        Ok(Self {
            expression: expression.to_owned(),
            timezone,
            cron,
        })
    }

    pub(crate) fn expression(&self) -> &str {
        &self.expression
    }

    pub(crate) fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire times are whole seconds; croner keeps a start time's fraction.
        let after = after.trunc_subsecs(0);
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.timezone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The latest fire time at or before `at` (the occurrence a tick at `at` serves).
    pub(crate) fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let at = at.trunc_subsecs(0);
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.timezone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The fire time strictly before `at`, a whole second (a fire time).
    pub(crate) fn previous_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.timezone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn nightly() -> CronSchedule {
        CronSchedule::new("0 0 3 * * *", chrono_tz::Asia::Seoul).unwrap()
    }

    #[test]
    fn five_field_cron_is_refused_with_an_example() {
        let error = CronSchedule::new("0 3 * * *", chrono_tz::Asia::Seoul).unwrap_err();
        assert!(error.contains("0 0 3 * * *"), "{error}");
    }

    #[test]
    fn occurrences_either_side_of_a_fire_time() {
        let s = nightly();
        let fire = Utc.with_ymd_and_hms(2026, 3, 10, 18, 0, 0).unwrap();
        assert_eq!(s.latest_at_or_before(fire), Some(fire));
        assert_eq!(
            s.previous_before(fire),
            Some(Utc.with_ymd_and_hms(2026, 3, 9, 18, 0, 0).unwrap())
        );
        assert_eq!(
            s.next_after(fire),
            Some(Utc.with_ymd_and_hms(2026, 3, 11, 18, 0, 0).unwrap())
        );
    }

    #[test]
    fn a_tick_that_comes_a_little_late_serves_its_whole_second_occurrence() {
        let s = CronSchedule::new("*/2 * * * * *", chrono_tz::Asia::Seoul).unwrap();
        let fire = Utc.with_ymd_and_hms(2026, 3, 10, 18, 0, 38).unwrap();
        let late = fire + chrono::Duration::milliseconds(117);
        assert_eq!(s.latest_at_or_before(late), Some(fire));
        assert_eq!(
            s.previous_before(fire),
            Some(fire - chrono::Duration::seconds(2))
        );
        assert_eq!(
            s.next_after(late),
            Some(fire + chrono::Duration::seconds(2))
        );
    }
}
