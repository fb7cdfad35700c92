//! `artistbot-skill`: the Kakao skill endpoint as an AWS Lambda function, behind any front
//! door AWS offers (API Gateway REST with any stage and resource path, an HTTP API, a
//! Function URL, an Application Load Balancer; see `skill::lambda`). Thin: settings,
//! telemetry, the pool (once per container, before the first event), then the same router
//! as `artistbot serve`. A failed start is reported to the Lambda service with its reason.

use std::process::ExitCode;

use anyhow::Context;
use artistbot::config::Settings;
use artistbot::skill::{self, SkillService, lambda};
use artistbot::telemetry::{self, Console};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match lambda::ensure_runtime_environment()
        .and_then(|()| Settings::load().context("configuration"))
    {
        Ok(settings) => settings,
        Err(error) => return startup_failed(error, false).await,
    };
    let _telemetry = match telemetry::init(Console::Lambda, settings.log_format.is_json(), None, 1)
    {
        Ok(guard) => guard,
        Err(error) => return startup_failed(error, false).await,
    };
    let store = match skill::connect_store(&settings)
        .await
        .context("opening the catalog")
    {
        Ok(store) => store,
        Err(error) => return startup_failed(error, true).await,
    };
    let service = SkillService::new(store, settings.skill.clone());
    service.warm_up();
    match lambda::run(service).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Says why once, in the log when it is up (so JSON logs stay JSON) and on stderr before,
/// and tells the Lambda service.
async fn startup_failed(error: anyhow::Error, logging: bool) -> ExitCode {
    if logging {
        tracing::error!("cannot start: {error:#}");
    } else {
        eprintln!("artistbot-skill: cannot start: {error:#}");
    }
    lambda::report_init_error(&error).await;
    ExitCode::FAILURE
}
