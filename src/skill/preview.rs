//! The chat preview: a page that looks like a KakaoTalk chat with the bot, for seeing what
//! the skill answers without KakaoTalk. `artistbot serve` shows it at `GET /`; one
//! self-contained file ([`PAGE`]: inline CSS and JS, no external script, font or image
//! besides the catalog's own image URLs, held to that by its Content-Security-Policy).
//!
//! The page sends the request Kakao sends to `POST /preview/skill`, which adds on the
//! server what the skill's checks need (the secret header, an allowed bot id) and hands
//! it to the very handler of `POST /skill`: same checks, same answer, same log line, and
//! the secret never reaches the page. Whoever can use the preview can therefore ask the
//! skill without the secret, so who may is decided here ([`access`]):
//! - `SKILL_PREVIEW=auto` (the default): only when `serve` listens on a loopback
//!   address, and only for requests naming a loopback host (a page on another site
//!   cannot reach it through a DNS name pointed at 127.0.0.1);
//! - `SKILL_PREVIEW=true`: wherever `serve` listens (a trusted network only);
//! - `SKILL_PREVIEW=false`: never.
//!
//! Either way a preview request must be JSON and come from the page's own origin, so a
//! page on another site cannot post one. The Lambda never serves the preview: its URL is
//! public, and a function has one job.
//!
//! This module knows nothing of the catalog or of the reply's content; it must not put
//! any setting into the page.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::answer::SkillService;
use crate::config::PreviewSetting;

/// The page: HTML with inline CSS and JS.
pub const PAGE: &str = include_str!("preview.html");

/// Where the page posts its skill requests.
pub const PREVIEW_SKILL_PATH: &str = "/preview/skill";

/// What the page may load and where it may send: its own inline code, images from
/// anywhere (the catalog's album art and photos), requests to its own origin only, and
/// no framing by another site.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src http: https:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Who may use the preview, once `serve` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewAccess {
    /// Requests must name a loopback host (`localhost`, `127.0.0.1`, `[::1]`).
    LoopbackHosts,
    /// Any host (`SKILL_PREVIEW=true` on an address other machines reach).
    AnyHost,
}

/// Whether `serve`, listening on `bind`, shows the preview, and to whom.
pub fn access(setting: PreviewSetting, bind: SocketAddr) -> Option<PreviewAccess> {
    if !setting.allows(bind) {
        return None;
    }
    Some(if bind.ip().is_loopback() {
        PreviewAccess::LoopbackHosts
    } else {
        PreviewAccess::AnyHost
    })
}

/// The skill's routes, and the chat preview's when `preview` says who may use it
/// (`artistbot serve` decides with [`access`]; the Lambda never asks for it).
pub fn router_with_preview(service: SkillService, preview: Option<PreviewAccess>) -> Router {
    let more = match preview {
        Some(access) => routes(access),
        None => Router::new(),
    };
    super::http::router_with(service, more)
}

/// `GET /` and `POST /preview/skill`.
fn routes(access: PreviewAccess) -> Router<SkillService> {
    Router::new()
        .route("/", get(move |headers: HeaderMap| page(headers, access)))
        .route(
            PREVIEW_SKILL_PATH,
            post(
                move |state: State<SkillService>,
                      headers: HeaderMap,
                      body: Result<Bytes, BytesRejection>| {
                    preview_skill(state, headers, body, access)
                },
            ),
        )
}

async fn page(headers: HeaderMap, access: PreviewAccess) -> Response {
    if let Err(why) = check_host(&headers, access) {
        return refused(why);
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
        .into_response()
}

/// A request from the page: checked to come from it, completed with what the skill's
/// checks need, then answered by the `POST /skill` handler itself.
async fn preview_skill(
    state: State<SkillService>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    access: PreviewAccess,
) -> Response {
    if let Err(why) = check_host(&headers, access).and_then(|()| check_same_origin(&headers)) {
        return refused(why);
    }
    let settings = state.settings();
    let mut forwarded = HeaderMap::new();
    forwarded.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(secret) = &settings.secret
        && let Ok(name) = HeaderName::from_bytes(settings.secret_header.as_bytes())
        && let Ok(value) = HeaderValue::from_str(secret.expose())
    {
        forwarded.insert(name, value);
    }
    let body = match (body, settings.bot_ids.first()) {
        (Ok(bytes), Some(bot_id)) => Ok(with_bot_id(bytes, bot_id)),
        (body, _) => body,
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return super::http::error_response(rejection.status(), &rejection.body_text());
        }
    };
    let mut request = Request::new(Body::from(body));
    *request.method_mut() = Method::POST;
    *request.headers_mut() = forwarded;
    super::http::skill(state, request).await
}

/// The request with `bot.id` set to an allowed bot, as Kakao would send it; a body that
/// is not a JSON object is left for the skill's own checks to refuse.
fn with_bot_id(body: Bytes, bot_id: &str) -> Bytes {
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let Some(fields) = request.as_object_mut() else {
        return body;
    };
    fields.insert("bot".into(), json!({"id": bot_id, "name": "chat preview"}));
    Bytes::from(request.to_string())
}

/// Refuses a request naming a host that is not a loopback one when only loopback hosts
/// may use the preview: a site whose DNS name points at 127.0.0.1 would otherwise be
/// "same origin" with the page.
fn check_host(headers: &HeaderMap, access: PreviewAccess) -> Result<(), &'static str> {
    if access == PreviewAccess::AnyHost {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if is_loopback_host(host) {
        Ok(())
    } else {
        Err("the chat preview answers on localhost only")
    }
}

/// `localhost`, a loopback address, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // "[::1]:8080"
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A preview request must be JSON (which a page on another site cannot post without a
/// preflight this server never allows) and, when the browser says where it comes from,
/// come from the page's own origin.
fn check_same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    let text = |name: HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    let is_json = text(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.trim_start().starts_with("application/json"));
    if !is_json {
        return Err("a preview request is JSON");
    }
    if let Some(site) = text(HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
    {
        return Err("a preview request comes from the preview page");
    }
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or("");
        let same = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|origin_host| origin_host.eq_ignore_ascii_case(host));
        if !same {
            return Err("a preview request comes from the preview page");
        }
    }
    Ok(())
}

fn refused(message: &str) -> Response {
    (StatusCode::FORBIDDEN, axum::Json(json!({"error": message}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart_from_names_that_only_point_there() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "example.com",
            "127.0.0.1.nip.io:8080",
            "10.0.0.5:8080",
            "[2001:db8::1]:80",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn serve_shows_the_preview_on_loopback_and_beyond_only_when_told() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let everywhere: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(
            access(PreviewSetting::Auto, loopback),
            Some(PreviewAccess::LoopbackHosts)
        );
        assert_eq!(access(PreviewSetting::Auto, everywhere), None);
        assert_eq!(
            access(PreviewSetting::Always, everywhere),
            Some(PreviewAccess::AnyHost)
        );
        assert_eq!(
            access(PreviewSetting::Always, loopback),
            Some(PreviewAccess::LoopbackHosts)
        );
        assert_eq!(access(PreviewSetting::Never, loopback), None);
    }

    #[test]
    fn the_page_is_self_contained() {
        let lower = PAGE.to_ascii_lowercase();
        for external in ["<script src", "<link", "<img src", "<iframe", "@font-face"] {
            assert!(
                !lower.contains(external),
                "the page loads something: {external}"
            );
        }
        let style = lower
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(style, _)| style)
            .expect("the page has its style inline");
        for external in ["url(", "@import"] {
            assert!(
                !style.contains(external),
                "the style loads something: {external}"
            );
        }
        assert!(PAGE.contains(PREVIEW_SKILL_PATH));
    }
}
