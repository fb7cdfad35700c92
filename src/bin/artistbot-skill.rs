//! `artistbot-skill`: the Kakao skill endpoint as an AWS Lambda function (a Function URL
//! or an API Gateway HTTP/REST API in front). Thin: telemetry, settings, the pool (once
//! per container, before the handler loop), then the same router as `artistbot serve`.

use artistbot::config::Settings;
use artistbot::skill::{self, SkillService};
use artistbot::telemetry::{self, Console};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = Settings::load()?;
    // CloudWatch keeps stdout (and times each line); no disk is worth log files.
    let _telemetry = telemetry::init(Console::Lambda, settings.log_format, None, 1)?;
    let store = skill::connect_store(&settings).await?;
    let service = SkillService::new(store, settings.skill.clone());
    service.warm_up();
    lambda_http::run(skill::router(service)).await
}
