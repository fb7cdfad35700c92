//! The HTTP face of the skill: `POST /skill`, `GET /healthz` and `GET /metrics`, the same
//! axum router for `artistbot serve` and for Lambda (whose events reach only the first
//! two).
//!
//! Owns the checks done before any work, cheapest first and before the body is read
//! whenever the headers suffice (the shared-secret header, a declared `Content-Length`
//! over the limit), then the body's size as it arrives, its JSON, the bot id; the status
//! codes and their JSON error bodies (every error status has one, 404 and 405
//! included); the counts behind `/metrics`; and the one log line per request. It must not
//! leak internals: errors a client sees are fixed sentences, a panic becomes a generic
//! answer, and logs carry neither secrets nor full user ids nor what users typed.

use std::any::Any;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{FutureExt, StreamExt};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::answer::{Outcome, SkillService};
use super::compose::unavailable_reply;
use super::metrics::{RefusalKind, ReplyKind};
use super::request::{RequestError, parse_skill_request};
use crate::store::skill::NameMatch;

/// Largest request body accepted. Kakao's payloads are a few kilobytes; this leaves room
/// for long utterances and many parameters while keeping abuse cheap to refuse.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The skill's routes over `service`.
pub fn router(service: SkillService) -> Router {
    router_with(service, Router::new())
}

/// The skill's routes and `more` (the chat preview's, see [`super::preview`]), behind
/// the same body limit and panic guard.
pub(super) fn router_with(service: SkillService, more: Router<SkillService>) -> Router {
    Router::new()
        .route("/skill", post(skill))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(more)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(answer_panics))
        .with_state(service)
}

/// Why a request was turned away before it reached the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Unauthorized,
    TooLarge,
    Unreadable,
    Malformed,
    Forbidden,
}

impl Refusal {
    fn counted_as(self) -> RefusalKind {
        match self {
            Refusal::Unauthorized => RefusalKind::Unauthorized,
            Refusal::TooLarge => RefusalKind::TooLarge,
            Refusal::Unreadable => RefusalKind::Unreadable,
            Refusal::Malformed => RefusalKind::Malformed,
            Refusal::Forbidden => RefusalKind::Forbidden,
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Unreadable | Refusal::Malformed => StatusCode::BAD_REQUEST,
            Refusal::Forbidden => StatusCode::FORBIDDEN,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::TooLarge => "too_large",
            Refusal::Unreadable => "unreadable",
            Refusal::Malformed => "malformed",
            Refusal::Forbidden => "forbidden",
        }
    }
}

/// `POST /skill`; also the chat preview's handler once it has added what the checks
/// need (see [`super::preview`]).
pub(super) async fn skill(State(service): State<SkillService>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let checked = check(&service, &parts.headers, body).await;
    let (request, user) = match checked {
        Ok(request) => {
            let user = request.user_id.as_deref().map(user_tag);
            (request, user)
        }
        Err((refusal, message)) => {
            service
                .metrics()
                .count_refusal(refusal.counted_as(), started.elapsed());
            tracing::info!(
                outcome = refusal.as_str(),
                status = refusal.status().as_u16(),
                latency_ms = elapsed_ms(started),
                "skill request refused"
            );
            return error_response(refusal.status(), &message);
        }
    };
    let (reply, outcome) = service.answer(&request).await;
    let (suggestions, recorded) = match outcome {
        Outcome::Unknown {
            suggestions,
            recorded,
        } => (suggestions, recorded),
        _ => (0, false),
    };
    service
        .metrics()
        .count_reply(counted_as(outcome), started.elapsed());
    tracing::info!(
        outcome = outcome.as_str(),
        status = 200,
        latency_ms = elapsed_ms(started),
        user = user.as_deref().unwrap_or("-"),
        query_chars = request.utterance.chars().count(),
        suggestions,
        recorded,
        "skill request"
    );
    axum::Json(reply).into_response()
}

fn counted_as(outcome: Outcome) -> ReplyKind {
    match outcome {
        Outcome::Found(NameMatch::Name) => ReplyKind::Hit,
        Outcome::Found(NameMatch::Alias) => ReplyKind::AliasHit,
        Outcome::Unknown { suggestions, .. } if suggestions > 0 => ReplyKind::Suggestion,
        Outcome::Unknown { .. } => ReplyKind::Miss,
        Outcome::EmptyQuery => ReplyKind::Empty,
        Outcome::Unavailable => ReplyKind::Unavailable,
    }
}

/// The checks before any work, cheapest first: the secret and a declared length over the
/// limit (from the headers alone: a refused client's body is never read), then the body
/// as it arrives (never more than the limit), its JSON, the bot.
async fn check(
    service: &SkillService,
    headers: &HeaderMap,
    body: Body,
) -> Result<super::request::SkillRequest, (Refusal, String)> {
    let settings = service.settings();
    if let Some(secret) = &settings.secret {
        let expected = secret.expose().as_bytes();
        let presented = HeaderName::from_bytes(settings.secret_header.as_bytes())
            .ok()
            .and_then(|name| headers.get(name))
            .map(|value| value.as_bytes());
        // Compared in constant time (only the length can show), so response timing does
        // not reveal how much of a guess was right.
        let accepted = presented.is_some_and(|given| bool::from(given.ct_eq(expected)));
        if !accepted {
            return Err((Refusal::Unauthorized, "unauthorized".into()));
        }
    }
    let too_large = || {
        (
            Refusal::TooLarge,
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = read_body(body).await.map_err(|error| match error {
        BodyError::TooLarge => too_large(),
        BodyError::Unreadable => (
            Refusal::Unreadable,
            "the request body could not be read".into(),
        ),
    })?;
    // The parser's messages name a position or a field, never the body's content.
    let request = parse_skill_request(&body)
        .map_err(|error: RequestError| (Refusal::Malformed, error.to_string()))?;
    if !settings.bot_ids.is_empty() {
        let known = request
            .bot_id
            .as_ref()
            .is_some_and(|id| settings.bot_ids.contains(id));
        if !known {
            return Err((Refusal::Forbidden, "this bot is not served here".into()));
        }
    }
    Ok(request)
}

enum BodyError {
    TooLarge,
    Unreadable,
}

/// The body, read chunk by chunk and given up on as soon as it passes the limit (a
/// chunked body declares no length).
async fn read_body(body: Body) -> Result<Vec<u8>, BodyError> {
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
        if read.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        read.extend_from_slice(&chunk);
    }
    Ok(read)
}

async fn metrics(State(service): State<SkillService>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        service.metrics().render(),
    )
        .into_response()
}

async fn healthz(State(service): State<SkillService>) -> Response {
    match service.database_answers().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response(),
        Err(cause) => {
            tracing::warn!(%cause, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// A panic never reaches the client as a dropped connection or a trace: `/skill` still
/// gets a valid "try again" reply, anything else a bare 500.
async fn answer_panics(request: Request, next: Next) -> Response {
    let is_skill = request.uri().path() == "/skill";
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(
                panic = panic_message(panic.as_ref()),
                "a skill request panicked"
            );
            if is_skill {
                axum::Json(unavailable_reply()).into_response()
            } else {
                error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

pub(super) fn error_response(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// A short tag standing for a user id in logs: lines of one user can be told apart and
/// correlated, but the id (a long-lived key Kakao gives per user) is not written down.
fn user_tag(user_id: &str) -> String {
    let mut hasher = DefaultHasher::new();
    user_id.hash(&mut hasher);
    format!("{:08x}", hasher.finish() as u32)
}

fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tags_are_short_stable_and_do_not_contain_the_id() {
        let id = "5f3e9c1a7b2d4e6f8a0b1c2d3e4f5a6b";
        assert_eq!(user_tag(id), user_tag(id));
        assert_eq!(user_tag(id).len(), 8);
        assert_ne!(user_tag(id), user_tag("another-user"));
        assert!(!id.contains(&user_tag(id)));
    }
}
