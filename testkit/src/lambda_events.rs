//! HTTP events as each AWS front door hands them to a Lambda function, for the tests and
//! the benchmark of `artistbot-skill`. The templates in `testkit/fixtures/lambda/` are our
//! own, modelled on the examples in AWS's documentation (API Gateway's Lambda proxy input
//! format 1.0 and 2.0, Function URL and ALB target events); ids, hosts and addresses are
//! made up. Each template has `"body": null`; [`FrontDoorEvent::carrying`] puts a request
//! body (and headers) in.

use base64::Engine as _;
use serde_json::{Value, json};

/// One front door and one way of setting it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontDoorEvent {
    /// API Gateway REST, resource `/skill` on stage `prod` (`requestContext.path` is
    /// `/prod/skill`).
    RestApiWithStage,
    /// API Gateway REST behind a custom domain: no stage anywhere in the paths.
    RestApiCustomDomain,
    /// API Gateway REST with the resource an older bot used, `/music-kakaobot` on stage
    /// `default`.
    RestApiCustomResource,
    /// API Gateway REST with a greedy `/{proxy+}` resource, any path below it.
    RestApiProxyResource,
    /// An API Gateway REST event as captured in 2020: no `multiValueHeaders`, no
    /// `isBase64Encoded`, a `requestContext` with three fields.
    RestApiMinimal2020,
    /// An HTTP API with payload format 1.0.
    HttpApiPayload1,
    /// An HTTP API with payload format 2.0, route `POST /skill` on `$default`.
    HttpApi,
    /// An HTTP API with payload format 2.0, a greedy route on the stage `prod`, cookies.
    HttpApiNamedStage,
    /// A Lambda Function URL (payload format 2.0), path `/`.
    FunctionUrl,
    /// An ALB target group without multi-value headers.
    LoadBalancer,
    /// An ALB target group with multi-value headers turned on.
    LoadBalancerMultiValue,
}

/// How the body is put into the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEncoding {
    Plain,
    Base64,
}

impl FrontDoorEvent {
    pub const ALL: [FrontDoorEvent; 11] = [
        FrontDoorEvent::RestApiWithStage,
        FrontDoorEvent::RestApiCustomDomain,
        FrontDoorEvent::RestApiCustomResource,
        FrontDoorEvent::RestApiProxyResource,
        FrontDoorEvent::RestApiMinimal2020,
        FrontDoorEvent::HttpApiPayload1,
        FrontDoorEvent::HttpApi,
        FrontDoorEvent::HttpApiNamedStage,
        FrontDoorEvent::FunctionUrl,
        FrontDoorEvent::LoadBalancer,
        FrontDoorEvent::LoadBalancerMultiValue,
    ];

    fn template(self) -> &'static str {
        match self {
            FrontDoorEvent::RestApiWithStage => {
                include_str!("../fixtures/lambda/rest-api-with-stage.json")
            }
            FrontDoorEvent::RestApiCustomDomain => {
                include_str!("../fixtures/lambda/rest-api-custom-domain.json")
            }
            FrontDoorEvent::RestApiCustomResource => {
                include_str!("../fixtures/lambda/rest-api-custom-resource.json")
            }
            FrontDoorEvent::RestApiProxyResource => {
                include_str!("../fixtures/lambda/rest-api-proxy-resource.json")
            }
            FrontDoorEvent::RestApiMinimal2020 => {
                include_str!("../fixtures/lambda/rest-api-2020-minimal.json")
            }
            FrontDoorEvent::HttpApiPayload1 => include_str!("../fixtures/lambda/http-api-v1.json"),
            FrontDoorEvent::HttpApi => include_str!("../fixtures/lambda/http-api-v2.json"),
            FrontDoorEvent::HttpApiNamedStage => {
                include_str!("../fixtures/lambda/http-api-v2-named-stage.json")
            }
            FrontDoorEvent::FunctionUrl => include_str!("../fixtures/lambda/function-url.json"),
            FrontDoorEvent::LoadBalancer => include_str!("../fixtures/lambda/load-balancer.json"),
            FrontDoorEvent::LoadBalancerMultiValue => {
                include_str!("../fixtures/lambda/load-balancer-multi-value.json")
            }
        }
    }

    /// The event as the template has it (no body).
    pub fn event(self) -> Value {
        serde_json::from_str(self.template()).expect("the event templates are JSON")
    }

    /// Whether the front door reads back payload format 2.0 (`cookies`, no
    /// `multiValueHeaders`).
    pub fn answers_in_format_2(self) -> bool {
        matches!(
            self,
            FrontDoorEvent::HttpApi
                | FrontDoorEvent::HttpApiNamedStage
                | FrontDoorEvent::FunctionUrl
        )
    }

    /// Whether the front door is a load balancer (it also reads `statusDescription`).
    pub fn is_load_balancer(self) -> bool {
        matches!(
            self,
            FrontDoorEvent::LoadBalancer | FrontDoorEvent::LoadBalancerMultiValue
        )
    }

    /// The event carrying `body`, plain or base64, with `headers` added wherever this
    /// front door keeps headers (lower-cased where AWS lower-cases them).
    pub fn carrying(self, body: &str, encoding: BodyEncoding, headers: &[(&str, &str)]) -> Value {
        let mut event = self.event();
        match encoding {
            BodyEncoding::Plain => event["body"] = json!(body),
            BodyEncoding::Base64 => {
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
                event["isBase64Encoded"] = json!(true);
            }
        }
        let lower_case = self.answers_in_format_2() || self.is_load_balancer();
        for (name, value) in headers {
            let name = if lower_case {
                name.to_ascii_lowercase()
            } else {
                name.to_string()
            };
            if let Some(single) = event.get_mut("headers").and_then(Value::as_object_mut) {
                single.insert(name.clone(), json!(value));
            }
            if let Some(multi) = event
                .get_mut("multiValueHeaders")
                .and_then(Value::as_object_mut)
            {
                multi.insert(name, json!([value]));
            }
        }
        event
    }

    /// A `GET` of the health check through this front door: every path the event carries
    /// ends in `healthz` instead of its last segment.
    pub fn health_check(self) -> Value {
        let mut event = self.event();
        // Pointers, not indexing: indexing a missing key would add it.
        for pointer in [
            "/httpMethod",
            "/requestContext/httpMethod",
            "/requestContext/http/method",
        ] {
            if let Some(method) = event
                .pointer_mut(pointer)
                .filter(|method| method.is_string())
            {
                *method = json!("GET");
            }
        }
        for pointer in [
            "/path",
            "/rawPath",
            "/requestContext/path",
            "/requestContext/http/path",
        ] {
            if let Some(path) = event.pointer_mut(pointer)
                && let Some(text) = path.as_str()
            {
                let parent = text
                    .trim_end_matches('/')
                    .rsplit_once('/')
                    .map_or("", |(parent, _)| parent);
                *path = json!(format!("{parent}/healthz"));
            }
        }
        event
    }
}
