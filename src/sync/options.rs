//! What a run is asked to do: why it was started ([`Trigger`]) and which artists it
//! covers ([`RunOptions`]). Plain values, passed in by whoever starts a unit of work.

/// Why a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Cli,
    Add,
    Schedule,
    Request,
}

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Add => "add",
            Trigger::Schedule => "schedule",
            Trigger::Request => "request",
        }
    }
}

/// What a run should cover.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub trigger: Trigger,
    /// Refresh only these artists (by id), fully, whatever their age.
    pub only: Option<Vec<String>>,
    /// Treat every artist as due.
    pub force: bool,
}

impl RunOptions {
    pub fn stale(trigger: Trigger) -> Self {
        Self {
            trigger,
            only: None,
            force: false,
        }
    }
}
