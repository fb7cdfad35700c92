//! Lenient parsing of the Kakao i Open Builder skill payload.
//!
//! Owns the edge where raw request bytes become a [`SkillRequest`]: the payload as Kakao posts it,
//! or wrapped in an AWS API Gateway (REST proxy) / Lambda Function URL event. Only
//! `userRequest.utterance` is required; every other field is read if it has the expected shape and
//! ignored otherwise, because Kakao's builder console, production traffic and system entities all
//! disagree on nulls and types, and a skill that rejects a request makes the bot look broken.
//!
//! This module must not decide what the user meant (name resolution lives elsewhere), touch the
//! database or a provider, or put anything into an error that a client should not see.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::names::clean_text;

/// Longest utterance kept, in characters. Kakao's own input box stops well below this; anything
/// longer is abuse or a bug, and every later step (lookups, logs, replies) is cheaper for the
/// cap.
pub(crate) const MAX_UTTERANCE_CHARS: usize = 1000;

/// Why a request body could not become a [`SkillRequest`].
///
/// Every message is safe to return to the caller: it names a position or a field, never an
/// internal type or the body's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RequestError {
    /// The body (or the event's `body`) is not JSON.
    #[error("malformed request: {message}")]
    Malformed {
        /// What went wrong and where (line and column).
        message: String,
    },
    /// `userRequest.utterance` is absent or not a string.
    #[error("userRequest.utterance is missing or not a string")]
    MissingUtterance,
    /// An API Gateway event said its body was base64 but it could not be decoded.
    #[error("the event body is not valid base64")]
    BadEventBody,
}

/// The parts of a skill request artistbot uses, owned and already cleaned of Kakao's odd shapes.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SkillRequest {
    /// `userRequest.utterance` as sent (trailing `\n` included), cut to [`MAX_UTTERANCE_CHARS`].
    pub(crate) utterance: String,
    /// `bot.id`, to check that the request comes from our own bot.
    pub(crate) bot_id: Option<String>,
    /// `userRequest.user.id` (a botUserKey in production, an accountId from the test console).
    pub(crate) user_id: Option<String>,
    /// `userRequest.block.id`.
    pub(crate) block_id: Option<String>,
    /// Action parameters by name, merged from `action.params` and `action.detailParams`.
    pub(crate) params: BTreeMap<String, ParamValue>,
    /// `userRequest.lang` ("ko", older "kr"); `None` when null, as the test console sends it.
    pub(crate) lang: Option<String>,
    /// `action.clientExtra.asked`, cleaned: the spelling a user had asked for when they
    /// tapped one of its suggestions (the suggestion chips carry it as their `extra`).
    pub(crate) asked: Option<String>,
}

/// One action parameter: what `action.params[name]` and `action.detailParams[name]` said about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ParamValue {
    /// `action.params[name]`, decoded; `None` when only `detailParams` named it or it was null.
    pub(crate) value: Option<ParamData>,
    /// `action.detailParams[name].origin`: the user's own words for this parameter.
    pub(crate) origin: Option<String>,
    /// `action.detailParams[name].value`, decoded like `value`.
    pub(crate) detail_value: Option<ParamData>,
}

/// What a parameter value turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamData {
    /// A string that does not hold JSON: the usual entity value.
    Text(String),
    /// Structured data: the decoded JSON of a string such as `"{\"amount\":1}"` (system entities
    /// arrive that way), or a non-string value sent as-is.
    Json(Value),
}

impl ParamData {
    /// The text this value stands for: the string itself, a JSON string, or the first string
    /// among an object's `value`, `name` and `origin` keys. `None` for numbers, arrays and objects
    /// without such a key (e.g. `sys.number`'s `{"amount": 1}`), which are not names.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            ParamData::Text(text) => Some(text),
            ParamData::Json(Value::String(text)) => Some(text),
            ParamData::Json(Value::Object(fields)) => ["value", "name", "origin"]
                .iter()
                .find_map(|key| fields.get(*key).and_then(Value::as_str)),
            ParamData::Json(_) => None,
        }
    }
}

impl SkillRequest {
    /// The artist name to look up, cleaned ([`clean_text`]: no control, format or bidi
    /// characters, spacing made plain, trimmed): the first non-blank text among the named action
    /// parameters (in the order given; for each, `params` value, then `detailParams` origin, then
    /// `detailParams` value), else the utterance. `None` when all of them are blank.
    pub(crate) fn artist_query(&self, param_names: &[&str]) -> Option<String> {
        let from_params = param_names
            .iter()
            .filter_map(|name| self.params.get(*name))
            .flat_map(|param| {
                [
                    param.value.as_ref().and_then(ParamData::as_text),
                    param.origin.as_deref(),
                    param.detail_value.as_ref().and_then(ParamData::as_text),
                ]
            })
            .flatten();
        from_params
            .chain(std::iter::once(self.utterance.as_str()))
            // A parameter is not capped at parse time like the utterance is, so cap the query
            // here; then clean it, so neither the stored request nor the reply's echo holds a
            // control, zero-width or bidi character.
            .map(|text| clean_text(cut_chars(text, MAX_UTTERANCE_CHARS)))
            .find(|text| !text.is_empty())
    }
}

/// Parses a skill request body, or an API Gateway / Function URL event that wraps one.
pub(crate) fn parse_skill_request(body: &[u8]) -> Result<SkillRequest, RequestError> {
    let document = parse_json(body)?;
    match unwrap_gateway_event(&document)? {
        Some(inner_body) => {
            let inner = parse_json(&inner_body)?;
            skill_request_from(&inner)
        }
        None => skill_request_from(&document),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, RequestError> {
    // Some HTTP clients and editors prepend a BOM; serde_json refuses it, and it means nothing.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    serde_json::from_slice(body).map_err(|error| {
        let what = if error.is_eof() {
            "unexpected end of JSON"
        } else {
            "invalid JSON"
        };
        RequestError::Malformed {
            message: format!("{what} at line {}, column {}", error.line(), error.column()),
        }
    })
}

/// The skill JSON inside an API Gateway event, or `None` when `document` is the skill JSON itself.
fn unwrap_gateway_event(document: &Value) -> Result<Option<Vec<u8>>, RequestError> {
    let Some(event) = document.as_object() else {
        return Ok(None);
    };
    if event.contains_key("userRequest") {
        return Ok(None);
    }
    let Some(body) = event.get("body").and_then(Value::as_str) else {
        return Ok(None);
    };
    let is_base64 = match event.get("isBase64Encoded") {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::String(flag)) => flag.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !is_base64 {
        return Ok(Some(body.as_bytes().to_vec()));
    }
    // Line breaks inside base64 are legal in MIME and harmless here: they must not fail a request.
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map(Some)
        .map_err(|_| RequestError::BadEventBody)
}

fn skill_request_from(document: &Value) -> Result<SkillRequest, RequestError> {
    let user_request = document.get("userRequest");
    let utterance = user_request
        .and_then(|request| request.get("utterance"))
        .and_then(Value::as_str)
        .ok_or(RequestError::MissingUtterance)?;

    let action = document.get("action");
    Ok(SkillRequest {
        utterance: cut_chars(utterance, MAX_UTTERANCE_CHARS).to_owned(),
        bot_id: non_empty_str(document, &["bot", "id"]),
        user_id: user_request.and_then(|request| non_empty_str(request, &["user", "id"])),
        block_id: user_request.and_then(|request| non_empty_str(request, &["block", "id"])),
        params: merge_params(
            action
                .and_then(|a| a.get("params"))
                .and_then(Value::as_object),
            action
                .and_then(|a| a.get("detailParams"))
                .and_then(Value::as_object),
        ),
        lang: user_request.and_then(|request| non_empty_str(request, &["lang"])),
        asked: action
            .and_then(|a| non_empty_str(a, &["clientExtra", "asked"]))
            .map(|asked| clean_text(cut_chars(&asked, MAX_UTTERANCE_CHARS)))
            .filter(|asked| !asked.is_empty()),
    })
}

/// The string at `path` below `value`, when every step exists and it ends in a non-empty string.
fn non_empty_str(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |current, key| current.get(*key))
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn merge_params(
    params: Option<&Map<String, Value>>,
    detail_params: Option<&Map<String, Value>>,
) -> BTreeMap<String, ParamValue> {
    let mut merged: BTreeMap<String, ParamValue> = BTreeMap::new();
    for (name, raw) in params.into_iter().flatten() {
        merged.entry(name.clone()).or_default().value = decode_param(raw);
    }
    for (name, detail) in detail_params.into_iter().flatten() {
        // A detail entry that is not an object (null, a bare string) carries nothing we can trust.
        let Some(detail) = detail.as_object() else {
            continue;
        };
        let entry = merged.entry(name.clone()).or_default();
        entry.origin = detail
            .get("origin")
            .and_then(Value::as_str)
            .map(str::to_owned);
        entry.detail_value = detail.get("value").and_then(decode_param);
    }
    merged
}

fn decode_param(raw: &Value) -> Option<ParamData> {
    match raw {
        Value::Null => None,
        Value::String(text) => Some(decode_param_text(text)),
        other => Some(ParamData::Json(other.clone())),
    }
}

/// Only strings that look like JSON documents are decoded: a name such as "1975" or "true" is
/// valid JSON too, and must stay a name.
fn decode_param_text(text: &str) -> ParamData {
    let looks_like_json = matches!(text.trim_start().chars().next(), Some('{' | '[' | '"'));
    if looks_like_json && let Ok(decoded) = serde_json::from_str::<Value>(text) {
        return ParamData::Json(decoded);
    }
    ParamData::Text(text.to_owned())
}

/// The first `max` characters of `text`, cut on a character boundary, without any marker: an
/// input is shortened, not decorated.
fn cut_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((byte_index, _)) => &text[..byte_index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    /// The builder's test console ("봇 테스트"): lang null, trailing newline, ignoreMe, accountId.
    const CONSOLE_REQUEST: &str = r#"{
      "intent": {"id": "b1c2d3e4f5a6b7c8d9e0f1a2", "name": "아티스트 검색"},
      "userRequest": {
        "timezone": "Asia/Seoul",
        "params": {"ignoreMe": "true"},
        "block": {"id": "b1c2d3e4f5a6b7c8d9e0f1a2", "name": "아티스트 검색"},
        "utterance": "아이유\n",
        "lang": null,
        "user": {"id": "918273", "type": "accountId", "properties": {}}
      },
      "bot": {"id": "64a0f1e2d3c4b5a697887766", "name": "아티스트봇 테스트"},
      "action": {
        "name": "artist_lookup",
        "clientExtra": null,
        "params": {"artist": "아이유"},
        "id": "a9b8c7d6e5f4a3b2c1d0e9f8",
        "detailParams": {"artist": {"origin": "아이유", "value": "아이유", "groupName": ""}}
      }
    }"#;

    /// Production traffic: lang "ko", surface param, botUserKey plus snake_case twins.
    const PRODUCTION_REQUEST: &str = r#"{
      "intent": {"id": "c0ffee0000aa11bb22cc33dd", "name": "아티스트 검색",
                 "extra": {"reason": {"code": 1, "message": "OK"}}},
      "userRequest": {
        "timezone": "Asia/Seoul",
        "params": {"surface": "Kakaotalk.plusfriend"},
        "block": {"id": "c0ffee0000aa11bb22cc33dd", "name": "아티스트 검색"},
        "utterance": "NewJeans",
        "lang": "ko",
        "user": {
          "id": "5f3e9c1a7b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a",
          "type": "botUserKey",
          "properties": {
            "botUserKey": "5f3e9c1a7b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a",
            "bot_user_key": "5f3e9c1a7b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a",
            "plusfriendUserKey": "Qx7_kLm2",
            "plusfriend_user_key": "Qx7_kLm2",
            "isFriend": true
          }
        }
      },
      "contexts": [],
      "bot": {"id": "64a0f1e2d3c4b5a697887766", "name": "아티스트봇"},
      "action": {
        "name": "artist_lookup",
        "clientExtra": {},
        "params": {},
        "id": "a9b8c7d6e5f4a3b2c1d0e9f8",
        "detailParams": {}
      }
    }"#;

    /// System entities JSON-encoded in strings, an object value, and a detailParams-only entry.
    const ENTITY_REQUEST: &str = r#"{
      "userRequest": {"utterance": "뉴진스 노래 2곡", "user": {"id": "u-77"}},
      "action": {
        "params": {
          "sys_number": "{\"amount\": 2, \"unit\": \"곡\"}",
          "group": {"value": "뉴진스", "resolvedFrom": "synonym"},
          "quoted": "\"르세라핌\"",
          "year_like": "1975",
          "broken_json": "{not json"
        },
        "detailParams": {
          "sys_number": {"origin": "2곡", "value": "{\"amount\": 2, \"unit\": \"곡\"}", "groupName": ""},
          "singer": {"origin": " 오마이걸 ", "value": "OH MY GIRL", "groupName": "가수"},
          "weird": "not an object"
        }
      }
    }"#;

    /// Nulls, numbers where strings belong, and keys Kakao may add one day.
    const ODD_TYPES_REQUEST: &str = r#"{
      "bot": null,
      "flow": {"trigger": {"type": "TEXT_INPUT"}, "lastBlock": {"id": "zz", "name": "웰컴"}},
      "futureTopLevel": [1, 2, 3],
      "userRequest": {
        "utterance": "Stray Kids",
        "lang": 42,
        "block": null,
        "callbackUrl": "https://bot-api.example.invalid/callback/abc",
        "params": {"surface": "Kakaotalk.plusfriend", "nested": {"a": [1, null]}, "n": 3.5},
        "user": {"id": 12345, "type": "botUserKey", "properties": null},
        "somethingNew": {"x": true}
      },
      "action": {"params": null, "detailParams": [], "clientExtra": null, "id": 7}
    }"#;

    fn parse(body: &str) -> SkillRequest {
        parse_skill_request(body.as_bytes()).expect("fixture parses")
    }

    fn gateway_event(body: &str, is_base64: bool) -> String {
        json!({
            "resource": "/skill",
            "path": "/skill",
            "httpMethod": "POST",
            "headers": {"content-type": "application/json", "x-artistbot-secret": "redacted"},
            "requestContext": {"stage": "prod", "requestId": "9f0e-test"},
            "body": body,
            "isBase64Encoded": is_base64
        })
        .to_string()
    }

    #[test]
    fn console_request_keeps_the_utterance_as_sent_and_tolerates_null_lang() {
        let request = parse(CONSOLE_REQUEST);

        assert_eq!(request.utterance, "아이유\n");
        assert_eq!(request.lang, None);
        assert_eq!(request.user_id.as_deref(), Some("918273"));
        assert_eq!(request.bot_id.as_deref(), Some("64a0f1e2d3c4b5a697887766"));
        assert_eq!(
            request.block_id.as_deref(),
            Some("b1c2d3e4f5a6b7c8d9e0f1a2")
        );
    }

    #[test]
    fn console_request_artist_query_comes_from_the_param() {
        let request = parse(CONSOLE_REQUEST);

        assert_eq!(request.artist_query(&["artist"]).as_deref(), Some("아이유"));
        let artist = &request.params["artist"];
        assert_eq!(artist.value, Some(ParamData::Text("아이유".into())));
        assert_eq!(artist.origin.as_deref(), Some("아이유"));
    }

    #[test]
    fn production_request_reads_ids_and_lang() {
        let request = parse(PRODUCTION_REQUEST);

        assert_eq!(request.utterance, "NewJeans");
        assert_eq!(request.lang.as_deref(), Some("ko"));
        assert_eq!(
            request.user_id.as_deref(),
            Some("5f3e9c1a7b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a")
        );
        assert!(request.params.is_empty());
    }

    #[test]
    fn production_request_without_params_falls_back_to_the_utterance() {
        let request = parse(PRODUCTION_REQUEST);

        assert_eq!(
            request.artist_query(&["artist", "group"]).as_deref(),
            Some("NewJeans")
        );
    }

    #[test]
    fn json_in_string_system_entity_is_decoded() {
        let request = parse(ENTITY_REQUEST);

        let number = &request.params["sys_number"];
        assert_eq!(
            number.value,
            Some(ParamData::Json(json!({"amount": 2, "unit": "곡"})))
        );
        assert_eq!(number.origin.as_deref(), Some("2곡"));
        assert_eq!(number.value.as_ref().and_then(ParamData::as_text), None);
    }

    #[test]
    fn object_param_value_yields_its_value_field() {
        let request = parse(ENTITY_REQUEST);

        assert_eq!(request.artist_query(&["group"]).as_deref(), Some("뉴진스"));
    }

    #[test]
    fn json_encoded_string_param_is_unquoted() {
        let request = parse(ENTITY_REQUEST);

        assert_eq!(
            request.artist_query(&["quoted"]).as_deref(),
            Some("르세라핌")
        );
    }

    #[test]
    fn numeric_looking_name_stays_text() {
        let request = parse(ENTITY_REQUEST);

        assert_eq!(
            request.params["year_like"].value,
            Some(ParamData::Text("1975".into()))
        );
        assert_eq!(
            request.artist_query(&["year_like"]).as_deref(),
            Some("1975")
        );
    }

    #[test]
    fn string_that_only_starts_like_json_stays_text() {
        let request = parse(ENTITY_REQUEST);

        assert_eq!(
            request.params["broken_json"].value,
            Some(ParamData::Text("{not json".into()))
        );
    }

    #[test]
    fn detail_params_origin_is_used_when_the_param_has_no_value() {
        let request = parse(ENTITY_REQUEST);

        assert_eq!(request.params["singer"].value, None);
        assert_eq!(
            request.artist_query(&["singer"]).as_deref(),
            Some("오마이걸")
        );
    }

    #[test]
    fn param_without_text_is_skipped_for_the_next_name() {
        let request = parse(ENTITY_REQUEST);

        // sys_number has no text value but its origin "2곡" is text, so it wins over "group".
        assert_eq!(
            request
                .artist_query(&["missing", "sys_number", "group"])
                .as_deref(),
            Some("2곡")
        );
        assert_eq!(
            request.artist_query(&["missing", "group"]).as_deref(),
            Some("뉴진스")
        );
    }

    #[test]
    fn non_object_detail_entry_is_ignored() {
        let request = parse(ENTITY_REQUEST);

        assert!(!request.params.contains_key("weird"));
    }

    #[test]
    fn odd_types_and_unknown_keys_do_not_fail_the_request() {
        let request = parse(ODD_TYPES_REQUEST);

        assert_eq!(request.utterance, "Stray Kids");
        assert_eq!(request.bot_id, None);
        assert_eq!(request.user_id, None, "a numeric id is not a string id");
        assert_eq!(request.block_id, None);
        assert_eq!(request.lang, None);
        assert!(request.params.is_empty());
        assert_eq!(
            request.artist_query(&["artist"]).as_deref(),
            Some("Stray Kids")
        );
    }

    #[test]
    fn client_extra_null_is_accepted() {
        let body = json!({
            "userRequest": {"utterance": "aespa"},
            "action": {"clientExtra": null, "params": {"artist": null}}
        })
        .to_string();

        let request = parse(&body);

        assert_eq!(request.params["artist"].value, None);
        assert_eq!(request.artist_query(&["artist"]).as_deref(), Some("aespa"));
    }

    #[test]
    fn blank_params_and_utterance_give_no_query() {
        let body = json!({
            "userRequest": {"utterance": " \n\t\u{3000}"},
            "action": {"params": {"artist": "  "}, "detailParams": {"artist": {"origin": "", "value": ""}}}
        })
        .to_string();

        assert_eq!(parse(&body).artist_query(&["artist"]), None);
    }

    #[test]
    fn artist_query_is_cleaned_of_invisible_characters_and_a_blank_result_is_skipped() {
        let body = json!({
            "userRequest": {"utterance": "\u{202E}Stray\u{200B} Kids\u{7}\n"},
            "action": {"params": {"artist": "\u{200B}\u{2066}\u{2069}"}}
        })
        .to_string();

        assert_eq!(
            parse(&body).artist_query(&["artist"]).as_deref(),
            Some("Stray Kids")
        );
    }

    #[test]
    fn a_tapped_suggestion_carries_the_asked_spelling_cleaned() {
        let tapped = json!({
            "userRequest": {"utterance": "OH MY GIRL"},
            "action": {"clientExtra": {"asked": "\u{202E}오마이갈\u{200B}"}}
        });
        let typed = json!({"userRequest": {"utterance": "OH MY GIRL"}, "action": {"clientExtra": {"asked": 3}}});

        assert_eq!(
            parse(&tapped.to_string()).asked.as_deref(),
            Some("오마이갈")
        );
        assert_eq!(parse(&typed.to_string()).asked, None);
    }

    #[test]
    fn artist_query_trims_the_trailing_newline_of_the_utterance() {
        let body = json!({"userRequest": {"utterance": "  BTS \n"}}).to_string();

        assert_eq!(parse(&body).artist_query(&[]).as_deref(), Some("BTS"));
    }

    #[test]
    fn gateway_event_with_plain_body_is_unwrapped() {
        let event = gateway_event(CONSOLE_REQUEST, false);

        let request = parse(&event);

        assert_eq!(request.utterance, "아이유\n");
        assert_eq!(request.bot_id.as_deref(), Some("64a0f1e2d3c4b5a697887766"));
    }

    #[test]
    fn gateway_event_with_base64_body_is_decoded() {
        let event = gateway_event(&STANDARD.encode(PRODUCTION_REQUEST), true);

        let request = parse(&event);

        assert_eq!(request.utterance, "NewJeans");
        assert_eq!(request.lang.as_deref(), Some("ko"));
    }

    #[test]
    fn gateway_event_with_undecodable_base64_is_a_bad_event_body() {
        let event = gateway_event("this is *not* base64!", true);

        assert_eq!(
            parse_skill_request(event.as_bytes()),
            Err(RequestError::BadEventBody)
        );
    }

    #[test]
    fn gateway_event_with_malformed_inner_json_reports_the_inner_position() {
        let event = gateway_event("{\n  \"userRequest\": {\n    \"utterance\": \n", false);

        let error = parse_skill_request(event.as_bytes()).unwrap_err();

        assert!(matches!(error, RequestError::Malformed { .. }));
        assert!(error.to_string().contains("line 4"), "{error}");
    }

    #[test]
    fn gateway_event_without_body_is_a_missing_utterance() {
        let event = json!({"httpMethod": "POST", "body": null, "isBase64Encoded": false});

        assert_eq!(
            parse_skill_request(event.to_string().as_bytes()),
            Err(RequestError::MissingUtterance)
        );
    }

    #[test]
    fn skill_json_with_a_body_key_is_not_mistaken_for_an_event() {
        let body = json!({"userRequest": {"utterance": "IVE"}, "body": "{}"}).to_string();

        assert_eq!(parse(&body).utterance, "IVE");
    }

    #[test]
    fn malformed_json_error_names_line_and_column() {
        let body = "{\n  \"userRequest\": {\n    \"utterance\": \"x\",,\n  }\n}";

        let error = parse_skill_request(body.as_bytes()).unwrap_err();

        let RequestError::Malformed { message } = &error else {
            panic!("expected Malformed, got {error:?}");
        };
        assert_eq!(message, "invalid JSON at line 3, column 22");
    }

    #[test]
    fn truncated_json_says_it_ended_early() {
        let error = parse_skill_request(br#"{"userRequest": {"utter"#).unwrap_err();

        assert_eq!(
            error.to_string(),
            "malformed request: unexpected end of JSON at line 1, column 23"
        );
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend_from_slice(br#"{"userRequest": {"utterance": "ITZY"}}"#);

        assert_eq!(parse_skill_request(&body).unwrap().utterance, "ITZY");
    }

    #[test]
    fn missing_utterance_is_reported() {
        for body in [
            r#"{"userRequest": {"lang": "ko"}}"#,
            r#"{"userRequest": null}"#,
            r#"{"intent": {}}"#,
            r#"[1, 2]"#,
            r#""just a string""#,
        ] {
            assert_eq!(
                parse_skill_request(body.as_bytes()),
                Err(RequestError::MissingUtterance),
                "{body}"
            );
        }
    }

    #[test]
    fn non_string_utterance_is_a_missing_utterance() {
        let body = r#"{"userRequest": {"utterance": 42}}"#;

        assert_eq!(
            parse_skill_request(body.as_bytes()),
            Err(RequestError::MissingUtterance)
        );
    }

    #[test]
    fn long_utterance_is_cut_to_1000_characters() {
        let long = "가".repeat(5000);
        let body = json!({"userRequest": {"utterance": long}}).to_string();

        let request = parse(&body);

        assert_eq!(request.utterance.chars().count(), MAX_UTTERANCE_CHARS);
        assert!(request.utterance.chars().all(|c| c == '가'));
    }

    #[test]
    fn long_param_is_cut_to_1000_characters_in_the_query() {
        let long = "a".repeat(5000);
        let body =
            json!({"userRequest": {"utterance": "x"}, "action": {"params": {"artist": long}}})
                .to_string();

        let query = parse(&body).artist_query(&["artist"]).unwrap();

        assert_eq!(query.chars().count(), MAX_UTTERANCE_CHARS);
    }

    #[test]
    fn error_messages_do_not_echo_the_body() {
        let secret = "s3cr3t-token-in-body";
        let body = format!("{{\"userRequest\": {{\"utterance\": \"{secret}\" oops");

        let error = parse_skill_request(body.as_bytes()).unwrap_err();

        assert!(!error.to_string().contains(secret));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_skill_request(&body);
        }

        #[test]
        fn any_string_utterance_is_accepted_and_capped(utterance in "\\PC{0,1500}") {
            let body = json!({"userRequest": {"utterance": utterance}}).to_string();

            let request = parse_skill_request(body.as_bytes()).unwrap();

            proptest::prop_assert!(request.utterance.chars().count() <= MAX_UTTERANCE_CHARS);
            proptest::prop_assert!(utterance.starts_with(&request.utterance));
        }
    }
}
