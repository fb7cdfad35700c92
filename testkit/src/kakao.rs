//! Every limit Kakao puts on a skill reply, checked on serialized JSON: the oracle the
//! skill's unit tests and its integration tests both check replies against.
//!
//! The numbers are written out here on purpose instead of using artistbot's constants: a
//! wrong constant must make these checks fail, not move with it.

use serde_json::Value;

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |text| text.chars().count())
}

fn is_http_url(value: &Value) -> bool {
    value.as_str().is_some_and(|url| {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
            && !url.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

fn check_buttons(card: &Value) -> Result<(), String> {
    let Some(buttons) = card.get("buttons") else {
        return Ok(());
    };
    let buttons = buttons.as_array().ok_or("buttons is not an array")?;
    ensure!(
        (1..=3).contains(&buttons.len()),
        "{} buttons",
        buttons.len()
    );
    let max_label = if buttons.len() >= 2 { 8 } else { 14 };
    for button in buttons {
        ensure!(
            (1..=max_label).contains(&chars(&button["label"])),
            "button label {}",
            button["label"]
        );
        match button["action"].as_str() {
            Some("webLink") => ensure!(is_http_url(&button["webLinkUrl"]), "link {button}"),
            Some("message") => ensure!(
                (1..=1000).contains(&chars(&button["messageText"])),
                "message {button}"
            ),
            other => return Err(format!("unexpected button action {other:?}")),
        }
    }
    Ok(())
}

fn check_basic_card(card: &Value) -> Result<(), String> {
    if let Some(title) = card.get("title") {
        ensure!((1..=50).contains(&chars(title)), "basicCard title {title}");
    }
    if let Some(description) = card.get("description") {
        ensure!(
            (1..=230).contains(&chars(description)),
            "basicCard description of {} characters",
            chars(description)
        );
    }
    ensure!(
        is_http_url(&card["thumbnail"]["imageUrl"]),
        "basicCard thumbnail {}",
        card["thumbnail"]
    );
    check_buttons(card)
}

fn check_list_card(card: &Value, max_items: usize) -> Result<(), String> {
    ensure!(
        (1..=50).contains(&chars(&card["header"]["title"])),
        "listCard header {}",
        card["header"]
    );
    let items = card["items"].as_array().ok_or("listCard items missing")?;
    ensure!(
        (1..=max_items).contains(&items.len()),
        "{} listCard items",
        items.len()
    );
    for item in items {
        ensure!(
            (1..=50).contains(&chars(&item["title"])),
            "item title {}",
            item["title"]
        );
        if let Some(description) = item.get("description") {
            ensure!(
                (1..=230).contains(&chars(description)),
                "item description {description}"
            );
        }
    }
    check_buttons(card)
}

/// No nulls, no control characters (but `\n` in a simpleText), every URL http(s).
fn check_strings(value: &Value, key: &str, in_simple_text: bool) -> Result<(), String> {
    match value {
        Value::Null => return Err(format!("null under {key}")),
        Value::String(text) => {
            let newline_allowed = in_simple_text && key == "text";
            ensure!(
                text.chars()
                    .all(|c| !c.is_control() || (newline_allowed && c == '\n')),
                "control character under {key}: {text:?}"
            );
            if key.ends_with("Url") || key == "web" {
                ensure!(is_http_url(value), "{key} is not an http(s) URL: {text}");
            }
        }
        Value::Array(items) => {
            for item in items {
                check_strings(item, key, in_simple_text)?;
            }
        }
        Value::Object(fields) => {
            for (child_key, child) in fields {
                check_strings(child, child_key, in_simple_text || key == "simpleText")?;
            }
        }
        Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Checks a whole reply; the error says which limit broke.
pub fn check_reply(reply: &Value) -> Result<(), String> {
    ensure!(reply["version"] == "2.0", "version {}", reply["version"]);
    check_strings(reply, "", false)?;
    let template = &reply["template"];
    let outputs = template["outputs"].as_array().ok_or("outputs missing")?;
    ensure!(
        (1..=3).contains(&outputs.len()),
        "{} outputs",
        outputs.len()
    );
    if let Some(quick_replies) = template.get("quickReplies") {
        let quick_replies = quick_replies.as_array().ok_or("quickReplies")?;
        ensure!(
            quick_replies.len() <= 10,
            "{} quick replies",
            quick_replies.len()
        );
        for chip in quick_replies {
            ensure!(chip["action"] == "message", "quick reply action {chip}");
            ensure!(
                (1..=14).contains(&chars(&chip["label"])),
                "quick reply label {}",
                chip["label"]
            );
            ensure!(
                (1..=1000).contains(&chars(&chip["messageText"])),
                "quick reply text"
            );
        }
    }
    for output in outputs {
        // Kakao reportedly drops a speech bubble (one output) over 30 KB.
        let size = output.to_string().len();
        ensure!(size <= 30_000, "an output of {size} bytes");
        let component = output.as_object().ok_or("an output is not an object")?;
        ensure!(
            component.len() == 1,
            "an output with {} keys",
            component.len()
        );
        let Some((kind, component)) = component.iter().next() else {
            return Err("empty output".into());
        };
        match kind.as_str() {
            "simpleText" => ensure!(
                (1..=1000).contains(&chars(&component["text"])),
                "simpleText of {} characters",
                chars(&component["text"])
            ),
            "basicCard" => check_basic_card(component)?,
            "listCard" => check_list_card(component, 5)?,
            "carousel" => {
                let cards = component["items"].as_array().ok_or("carousel items")?;
                match component["type"].as_str() {
                    Some("listCard") => {
                        ensure!((1..=5).contains(&cards.len()), "{} listCards", cards.len());
                        for card in cards {
                            check_list_card(card, 4)?;
                        }
                    }
                    Some("basicCard") => {
                        ensure!(
                            (1..=10).contains(&cards.len()),
                            "{} basicCards",
                            cards.len()
                        );
                        for card in cards {
                            check_basic_card(card)?;
                        }
                    }
                    other => return Err(format!("carousel of {other:?}")),
                }
            }
            other => return Err(format!("unexpected output {other}")),
        }
    }
    Ok(())
}
