//! The skill on AWS Lambda: whatever front door AWS puts before the function (API Gateway
//! REST with any stage and resource path, an HTTP API, a Function URL, an Application
//! Load Balancer), its event becomes a request to the same router as `artistbot serve`,
//! and the router's answer goes back in the shape that front door reads.
//!
//! Why not `lambda_http`: its typed events refuse an event that lacks an optional part (a
//! real API Gateway capture without `multiValueHeaders` never reached our code), and it
//! routes by a path that carries the stage (`/prod/skill`, `/default/music-kakaobot`),
//! which no router can know in advance. Here the event is read as plain JSON, leniently,
//! and its path only tells the health check from the skill: a Lambda function has one job,
//! so any other path is the skill.
//!
//! Owns the event → request and response → proxy response conversions, the runtime loop,
//! and reporting a failed start. It must not look into the skill request (the router
//! checks and parses it, the same way behind every front door), nor log headers or
//! bodies: the shared secret travels in a header.

use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_LENGTH, COOKIE, SET_COOKIE, TRANSFER_ENCODING};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use base64::Engine as _;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use tracing::Instrument;

use super::answer::SkillService;
use super::http::router;

/// The router's health check; an event whose path ends in this segment (`/healthz`,
/// `/prod/healthz`) is sent there, every other event to the skill.
const HEALTH_SEGMENT: &str = "healthz";
const HEALTH_PATH: &str = "/healthz";
const SKILL_PATH: &str = "/skill";

/// What the Lambda service sets for a function; without them the runtime cannot start
/// (and `lambda_runtime` would panic).
const RUNTIME_ENVIRONMENT: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// How long reporting a failed start may take: the Runtime API is on the same host.
const INIT_ERROR_TIMEOUT: Duration = Duration::from_secs(2);

/// Which AWS service sent the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrontDoor {
    RestApi,
    HttpApi,
    FunctionUrl,
    LoadBalancer,
}

impl FrontDoor {
    fn as_str(self) -> &'static str {
        match self {
            FrontDoor::RestApi => "rest_api",
            FrontDoor::HttpApi => "http_api",
            FrontDoor::FunctionUrl => "function_url",
            FrontDoor::LoadBalancer => "load_balancer",
        }
    }
}

/// The response a front door reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseFormat {
    /// API Gateway REST, and an HTTP API with payload format 1.0.
    ProxyV1,
    /// An HTTP API with payload format 2.0, and a Function URL.
    ProxyV2,
    /// An ALB target group: with multi-value headers turned on it reads only
    /// `multiValueHeaders`, otherwise only `headers`.
    LoadBalancer { multi_value_headers: bool },
}

/// Why an event got no HTTP answer. The runtime posts it to the invocation's `error`
/// endpoint, so the Lambda service records a failed invocation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventError {
    #[error(
        "the event is not an HTTP request from API Gateway, a Function URL or a load balancer ({shape})"
    )]
    NotHttp { shape: String },
    #[error("the skill's response body could not be read")]
    ResponseBody(#[source] axum::Error),
}

impl From<EventError> for Diagnostic {
    fn from(error: EventError) -> Diagnostic {
        let error_type = match &error {
            EventError::NotHttp { .. } => "NotAnHttpEvent",
            EventError::ResponseBody(_) => "ResponseNotReadable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: format!("{:#}", anyhow::Error::from(error)),
        }
    }
}

/// An HTTP event, read: the request for the router and how to answer.
#[derive(Debug)]
pub(crate) struct HttpEvent {
    pub(crate) front_door: FrontDoor,
    pub(crate) format: ResponseFormat,
    pub(crate) request: Request<Body>,
}

impl HttpEvent {
    /// Reads any HTTP event AWS sends, taking what is there: a missing method is POST
    /// when there is a body (GET otherwise), missing headers are none, a missing
    /// `isBase64Encoded` is false, and a body that claims base64 but is not is taken as
    /// it is. Only an event with none of an HTTP event's parts is refused.
    pub(crate) fn read(mut event: Value) -> Result<HttpEvent, EventError> {
        let Some(fields) = event.as_object_mut() else {
            return Err(EventError::NotHttp {
                shape: describe(&event),
            });
        };
        let (front_door, format) = classify(fields).ok_or_else(|| EventError::NotHttp {
            shape: describe_object(fields),
        })?;
        let mut headers = headers_of(fields);
        let body = body_of(fields);
        let method = method_of(fields).unwrap_or(if body.is_empty() {
            Method::GET
        } else {
            Method::POST
        });
        let route = route_for(path_of(fields).unwrap_or("/"));

        // The router sees the body as it is now (decoded), whatever length and framing
        // the client sent.
        headers.remove(TRANSFER_ENCODING);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut request = Request::new(Body::from(body));
        *request.method_mut() = method;
        *request.uri_mut() = Uri::from_static(route);
        *request.headers_mut() = headers;
        Ok(HttpEvent {
            front_door,
            format,
            request,
        })
    }
}

/// Answers one event through `router`, in the event's own response format.
pub(crate) async fn answer_event(router: Router, event: Value) -> Result<Value, EventError> {
    let event = HttpEvent::read(event)?;
    let span = tracing::info_span!("event", front_door = event.front_door.as_str());
    let response = router
        .oneshot(event.request)
        .instrument(span)
        .await
        .unwrap_or_else(|never| match never {});
    proxy_response(event.format, response).await
}

async fn proxy_response(
    format: ResponseFormat,
    response: Response<Body>,
) -> Result<Value, EventError> {
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(EventError::ResponseBody)?;
    Ok(format.response(parts.status, &parts.headers, &body))
}

impl ResponseFormat {
    /// The proxy response for a status, headers and body.
    pub(crate) fn response(self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Value {
        // Every answer of the skill is JSON; base64 is only for a body that is not text.
        let (body, is_base64) = match std::str::from_utf8(body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
        };
        let mut response = Map::new();
        response.insert("statusCode".into(), json!(status.as_u16()));
        match self {
            ResponseFormat::ProxyV1 => {
                // API Gateway merges the two maps; a header with several values is only
                // in the multi-value one, so nothing is sent twice.
                response.insert("headers".into(), single_valued_headers(headers));
                response.insert("multiValueHeaders".into(), multi_value_headers(headers));
            }
            ResponseFormat::ProxyV2 => {
                let (headers, cookies) = joined_headers_and_cookies(headers);
                response.insert("headers".into(), headers);
                response.insert("cookies".into(), cookies);
            }
            ResponseFormat::LoadBalancer {
                multi_value_headers: multi_value,
            } => {
                let description = format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                );
                response.insert("statusDescription".into(), json!(description.trim_end()));
                if multi_value {
                    response.insert("multiValueHeaders".into(), multi_value_headers(headers));
                } else {
                    response.insert("headers".into(), joined_headers_and_cookies(headers).0);
                }
            }
        }
        response.insert("body".into(), json!(body));
        response.insert("isBase64Encoded".into(), json!(is_base64));
        Value::Object(response)
    }
}

/// Which front door sent `fields`, or `None` when it is no HTTP event at all.
fn classify(fields: &Map<String, Value>) -> Option<(FrontDoor, ResponseFormat)> {
    let context = fields.get("requestContext").and_then(Value::as_object);
    if context.is_some_and(|context| context.contains_key("elb")) {
        let multi_value_headers = fields
            .get("multiValueHeaders")
            .is_some_and(Value::is_object);
        return Some((
            FrontDoor::LoadBalancer,
            ResponseFormat::LoadBalancer {
                multi_value_headers,
            },
        ));
    }
    let version = fields.get("version").and_then(Value::as_str);
    let is_v2 = version == Some("2.0")
        || fields.contains_key("rawPath")
        || context
            .and_then(|context| context.get("http"))
            .is_some_and(Value::is_object);
    if is_v2 {
        let domain = context
            .and_then(|context| context.get("domainName"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let front_door = if domain.contains(".lambda-url.") {
            FrontDoor::FunctionUrl
        } else {
            FrontDoor::HttpApi
        };
        return Some((front_door, ResponseFormat::ProxyV2));
    }
    // Any one part of a proxy event will do: hand-written test events and old captures
    // carry only some of them.
    const PROXY_PARTS: [&str; 8] = [
        "httpMethod",
        "path",
        "resource",
        "requestContext",
        "headers",
        "multiValueHeaders",
        "body",
        "routeKey",
    ];
    if PROXY_PARTS.iter().any(|part| fields.contains_key(*part)) {
        let front_door = if version == Some("1.0") {
            FrontDoor::HttpApi
        } else {
            FrontDoor::RestApi
        };
        return Some((front_door, ResponseFormat::ProxyV1));
    }
    None
}

/// The method the event names, wherever its format keeps it.
fn method_of(fields: &Map<String, Value>) -> Option<Method> {
    let context = fields.get("requestContext");
    [
        fields.get("httpMethod"),
        context
            .and_then(|c| c.get("http"))
            .and_then(|h| h.get("method")),
        context.and_then(|c| c.get("httpMethod")),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    .find_map(|name| Method::from_bytes(name.trim().to_ascii_uppercase().as_bytes()).ok())
}

/// The path the client asked for, wherever the event's format keeps it.
fn path_of(fields: &Map<String, Value>) -> Option<&str> {
    let context = fields.get("requestContext");
    [
        fields.get("rawPath"),
        fields.get("path"),
        context
            .and_then(|c| c.get("http"))
            .and_then(|h| h.get("path")),
        context.and_then(|c| c.get("path")),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_str)
}

/// The router path for an event's path: stages and resource names are the operator's
/// choice, so only the last segment counts, and only to find the health check.
fn route_for(path: &str) -> &'static str {
    let last_segment = path.split('/').rev().find(|segment| !segment.is_empty());
    if last_segment == Some(HEALTH_SEGMENT) {
        HEALTH_PATH
    } else {
        SKILL_PATH
    }
}

/// `multiValueHeaders` (complete when present), then what `headers` adds, then the
/// cookies an HTTP API keeps apart. Names and values HTTP does not allow are skipped.
fn headers_of(fields: &Map<String, Value>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(multi) = fields.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in multi {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            let values = match values {
                Value::Array(values) => values.iter().collect(),
                single => vec![single],
            };
            for value in values.into_iter().filter_map(header_value) {
                headers.append(name.clone(), value);
            }
        }
    }
    if let Some(single) = fields.get("headers").and_then(Value::as_object) {
        for (name, value) in single {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            if !headers.contains_key(&name)
                && let Some(value) = header_value(value)
            {
                headers.insert(name, value);
            }
        }
    }
    if !headers.contains_key(COOKIE)
        && let Some(cookies) = fields.get("cookies").and_then(Value::as_array)
    {
        let joined: Vec<&str> = cookies.iter().filter_map(Value::as_str).collect();
        if let Ok(value) = HeaderValue::from_str(&joined.join("; "))
            && !joined.is_empty()
        {
            headers.insert(COOKIE, value);
        }
    }
    headers
}

fn header_value(value: &Value) -> Option<HeaderValue> {
    match value {
        Value::String(text) => HeaderValue::from_bytes(text.as_bytes()).ok(),
        Value::Number(number) => HeaderValue::from_str(&number.to_string()).ok(),
        Value::Bool(flag) => HeaderValue::from_str(&flag.to_string()).ok(),
        _ => None,
    }
}

/// The request body: the `body` string, decoded when `isBase64Encoded` says so (`true`
/// or `"true"`), JSON written back out when a hand-made event put an object there, and
/// empty when there is none.
fn body_of(fields: &mut Map<String, Value>) -> Bytes {
    let base64 = match fields.get("isBase64Encoded") {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(flag)) => flag.eq_ignore_ascii_case("true"),
        _ => false,
    };
    match fields.remove("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if base64 => match decode_base64(&text) {
            Some(decoded) => Bytes::from(decoded),
            None => {
                // A front door set up by hand may flag a plain body; the router then
                // judges the bytes (and answers 400 if they are not a skill request).
                tracing::debug!(
                    "isBase64Encoded is set but the body is not base64: taken as it is"
                );
                Bytes::from(text)
            }
        },
        Some(Value::String(text)) => Bytes::from(text),
        Some(other) => Bytes::from(other.to_string()),
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // Line breaks inside base64 are legal in MIME and mean nothing here.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn single_valued_headers(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let mut values = headers.get_all(name).iter();
        if let (Some(value), None) = (values.next(), values.next()) {
            map.insert(name.as_str().to_owned(), json!(header_text(value)));
        }
    }
    Value::Object(map)
}

fn multi_value_headers(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers.get_all(name).iter().map(header_text).collect();
        map.insert(name.as_str().to_owned(), json!(values));
    }
    Value::Object(map)
}

/// Headers with repeated values joined by commas, as payload format 2.0 has them, and
/// `Set-Cookie` apart (it cannot be joined).
fn joined_headers_and_cookies(headers: &HeaderMap) -> (Value, Value) {
    let mut map = Map::new();
    for name in headers.keys().filter(|name| *name != SET_COOKIE) {
        let values: Vec<String> = headers.get_all(name).iter().map(header_text).collect();
        map.insert(name.as_str().to_owned(), json!(values.join(",")));
    }
    let cookies: Vec<String> = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(header_text)
        .collect();
    (Value::Object(map), json!(cookies))
}

fn header_text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// What a non-HTTP event looks like, for the error: its JSON type, or an object's first
/// few keys (names only, never values).
fn describe(event: &Value) -> String {
    match event {
        Value::Object(fields) => describe_object(fields),
        Value::Array(_) => "a JSON array".into(),
        Value::String(_) => "a JSON string".into(),
        Value::Number(_) => "a JSON number".into(),
        Value::Bool(_) => "a JSON boolean".into(),
        Value::Null => "null".into(),
    }
}

fn describe_object(fields: &Map<String, Value>) -> String {
    const SHOWN: usize = 6;
    if fields.is_empty() {
        return "an empty object".into();
    }
    let mut keys: Vec<String> = fields
        .keys()
        .take(SHOWN)
        .map(|key| key.chars().take(40).collect())
        .collect();
    if fields.len() > SHOWN {
        keys.push("…".into());
    }
    format!("an object with {}", keys.join(", "))
}

/// Fails with a clear message when the process was not started by the Lambda service
/// (or something that speaks its Runtime API), instead of the runtime's panic.
pub fn ensure_runtime_environment() -> anyhow::Result<()> {
    let missing: Vec<&str> = RUNTIME_ENVIRONMENT
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none_or(|value| value.is_empty()))
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "artistbot-skill runs under the AWS Lambda Runtime API, and {} is not set \
             (to serve the skill over HTTP, run `artistbot serve`)",
            missing.join(", ")
        );
    }
    let memory = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default();
    if memory.trim().parse::<i32>().is_err() {
        anyhow::bail!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is not a number of megabytes: {memory:?}");
    }
    Ok(())
}

/// Answers the skill's events from the Lambda Runtime API, one at a time, until the
/// runtime stops. An event that cannot be answered over HTTP is reported as the
/// invocation's error; a panic in a request is the router's to answer.
pub async fn run(service: SkillService) -> anyhow::Result<()> {
    ensure_runtime_environment()?;
    let router = router(service);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let router = router.clone();
        async move {
            answer_event(router, event.payload)
                .await
                .map_err(Diagnostic::from)
        }
    });
    lambda_runtime::run(handler)
        .await
        .map_err(anyhow::Error::from_boxed)
        .context("the Lambda runtime stopped")
}

/// Tells the Lambda service why the function could not start (`init/error`), so the
/// failure is recorded with its reason. Does nothing outside Lambda; a report that cannot
/// be sent is written to stderr, next to the error itself.
pub async fn report_init_error(error: &anyhow::Error) {
    let Some(endpoint) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .and_then(|api| api.parse::<Uri>().ok())
    else {
        return;
    };
    let client = lambda_runtime_api_client::PooledClient::builder()
        .with_endpoint(endpoint)
        .build();
    let body = json!({
        "errorType": "StartupFailed",
        "errorMessage": format!("{error:#}"),
    });
    let request = lambda_runtime_api_client::build_request()
        .method(Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .body(lambda_runtime_api_client::body::Body::from(
            body.to_string(),
        ));
    let sent = match request {
        Ok(request) => tokio::time::timeout(INIT_ERROR_TIMEOUT, client.call(request))
            .await
            .map_err(|_| "no answer".to_owned())
            .and_then(|answer| answer.map(drop).map_err(|error| error.to_string())),
        Err(error) => Err(error.to_string()),
    };
    if let Err(problem) = sent {
        eprintln!(
            "artistbot-skill: could not report the failed start to the Lambda service: {problem}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(event: Value) -> HttpEvent {
        HttpEvent::read(event).expect("an HTTP event")
    }

    async fn body_text(event: HttpEvent) -> String {
        let bytes = axum::body::to_bytes(event.request.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn each_front_door_is_told_apart_by_its_event() {
        let rest =
            json!({"httpMethod": "POST", "path": "/skill", "requestContext": {"stage": "prod"}});
        let http_v1 = json!({"version": "1.0", "httpMethod": "POST", "path": "/skill"});
        let http_v2 = json!({"version": "2.0", "rawPath": "/skill",
            "requestContext": {"domainName": "abc123.execute-api.ap-northeast-2.amazonaws.com",
                               "http": {"method": "POST"}}});
        let url = json!({"version": "2.0", "rawPath": "/",
            "requestContext": {"domainName": "abc123.lambda-url.ap-northeast-2.on.aws",
                               "http": {"method": "POST"}}});
        let alb = json!({"httpMethod": "POST", "path": "/", "headers": {},
            "requestContext": {"elb": {"targetGroupArn": "arn"}}});
        let alb_multi = json!({"httpMethod": "POST", "path": "/", "multiValueHeaders": {},
            "requestContext": {"elb": {"targetGroupArn": "arn"}}});

        let kinds: Vec<(FrontDoor, ResponseFormat)> = [rest, http_v1, http_v2, url, alb, alb_multi]
            .into_iter()
            .map(|event| {
                let event = read(event);
                (event.front_door, event.format)
            })
            .collect();

        use ResponseFormat::*;
        assert_eq!(
            kinds,
            [
                (FrontDoor::RestApi, ProxyV1),
                (FrontDoor::HttpApi, ProxyV1),
                (FrontDoor::HttpApi, ProxyV2),
                (FrontDoor::FunctionUrl, ProxyV2),
                (
                    FrontDoor::LoadBalancer,
                    LoadBalancer {
                        multi_value_headers: false
                    }
                ),
                (
                    FrontDoor::LoadBalancer,
                    LoadBalancer {
                        multi_value_headers: true
                    }
                ),
            ]
        );
    }

    #[test]
    fn every_path_but_the_health_check_is_the_skill() {
        for path in [
            "/skill",
            "/prod/skill",
            "/default/music-kakaobot",
            "/",
            "",
            "/a/b/c",
        ] {
            assert_eq!(route_for(path), "/skill", "{path:?}");
        }
        for path in ["/healthz", "/prod/healthz", "/healthz/"] {
            assert_eq!(route_for(path), "/healthz", "{path:?}");
        }
        let event = read(json!({"httpMethod": "GET", "path": "/healthz",
            "requestContext": {"path": "/prod/healthz", "stage": "prod"}}));
        assert_eq!(event.request.uri(), "/healthz");
        assert_eq!(event.request.method(), Method::GET);
    }

    #[test]
    fn multi_value_headers_come_first_and_headers_fill_in() {
        let event = read(json!({
            "httpMethod": "POST",
            "multiValueHeaders": {"X-Skill-Secret": ["s3cret"], "Accept": ["a", "b"]},
            "headers": {"x-skill-secret": "other", "Content-Type": "application/json",
                        "bad name": "x", "x-number": 7, "x-null": null},
        }));
        let headers = event.request.headers();

        assert_eq!(headers["x-skill-secret"], "s3cret");
        assert_eq!(headers.get_all("accept").iter().count(), 2);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-number"], "7");
        assert!(!headers.contains_key("x-null"));
    }

    #[tokio::test]
    async fn a_missing_method_follows_the_body_and_a_base64_body_is_decoded() {
        let encoded = read(json!({"body": "eyJhIjogMX0=", "isBase64Encoded": "true"}));
        assert_eq!(encoded.request.method(), Method::POST);
        assert_eq!(encoded.request.headers()["content-length"], "8");
        assert_eq!(body_text(encoded).await, r#"{"a": 1}"#);

        let plain_but_flagged = read(json!({"body": "{\"a\": 1}", "isBase64Encoded": true}));
        assert_eq!(body_text(plain_but_flagged).await, r#"{"a": 1}"#);

        let object_body = read(json!({"httpMethod": "POST", "body": {"a": 1}}));
        assert_eq!(body_text(object_body).await, r#"{"a":1}"#);

        let nothing = read(json!({"headers": null, "body": null}));
        assert_eq!(nothing.request.method(), Method::GET);
    }

    #[test]
    fn an_event_that_is_not_http_is_an_error_naming_its_shape_not_its_values() {
        let scheduled = json!({"source": "aws.events", "detail-type": "Scheduled Event",
            "detail": {"secret": "do-not-print"}});
        let error = HttpEvent::read(scheduled).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("not an HTTP request"), "{message}");
        assert!(message.contains("detail-type"), "{message}");
        assert!(!message.contains("do-not-print"), "{message}");

        let diagnostic = Diagnostic::from(HttpEvent::read(json!([1, 2])).unwrap_err());
        assert_eq!(diagnostic.error_type, "NotAnHttpEvent");
        assert!(diagnostic.error_message.contains("a JSON array"));
        assert!(HttpEvent::read(json!({})).is_err());
    }

    #[test]
    fn responses_take_each_front_doors_shape() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append(SET_COOKIE, HeaderValue::from_static("a=1"));
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2"));
        let body = br#"{"version":"2.0"}"#;

        let v1 = ResponseFormat::ProxyV1.response(StatusCode::OK, &headers, body);
        assert_eq!(v1["statusCode"], 200);
        assert_eq!(v1["headers"], json!({"content-type": "application/json"}));
        assert_eq!(v1["multiValueHeaders"]["set-cookie"], json!(["a=1", "b=2"]));
        assert_eq!(v1["body"], r#"{"version":"2.0"}"#);
        assert_eq!(v1["isBase64Encoded"], false);

        let v2 = ResponseFormat::ProxyV2.response(StatusCode::NOT_FOUND, &headers, body);
        assert_eq!(v2["statusCode"], 404);
        assert_eq!(v2["headers"], json!({"content-type": "application/json"}));
        assert_eq!(v2["cookies"], json!(["a=1", "b=2"]));

        let alb = ResponseFormat::LoadBalancer {
            multi_value_headers: false,
        };
        let alb = alb.response(StatusCode::PAYLOAD_TOO_LARGE, &headers, body);
        assert_eq!(alb["statusDescription"], "413 Payload Too Large");
        assert!(alb.get("multiValueHeaders").is_none());
        let alb_multi = ResponseFormat::LoadBalancer {
            multi_value_headers: true,
        };
        let alb_multi = alb_multi.response(StatusCode::OK, &headers, body);
        assert!(alb_multi.get("headers").is_none());
        assert_eq!(
            alb_multi["multiValueHeaders"]["content-type"],
            json!(["application/json"])
        );

        let binary =
            ResponseFormat::ProxyV2.response(StatusCode::OK, &HeaderMap::new(), &[0xff, 0]);
        assert_eq!(binary["isBase64Encoded"], true);
        assert_eq!(binary["body"], "/wA=");
    }
}
