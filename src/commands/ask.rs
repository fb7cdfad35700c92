//! `artistbot ask NAME...`: the reply the KakaoTalk skill gives, seen from a terminal.
//!
//! The utterance becomes a request shaped as Kakao sends it, parsed by the skill's own
//! parser and answered by [`SkillService::answer`], the code path of `POST /skill`
//! (lookup, related artists, suggestions), with [`MissRecording::Never`]: `ask` writes
//! nothing, not even a missed name. It reads the catalog through the store and never
//! creates or migrates a database. The reply is printed as Kakao would draw it, or as
//! its JSON with `--json`.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::skill::request::parse_skill_request;
use crate::skill::{MissRecording, Outcome, SkillService};
use crate::store::lock::sqlite_file;
use crate::store::{PoolOptions, Store, StoreError};

/// `artistbot ask`: prints the reply to `words` joined by spaces. Exit code 0 for any
/// reply from the catalog (a known name or not), 1 when the catalog could not be read.
pub async fn run(settings: &Settings, words: &[String], as_json: bool) -> Result<i32> {
    let utterance = words.join(" ");
    let store = open_catalog(settings).await?;
    let service =
        SkillService::with_miss_recording(store, settings.skill.clone(), MissRecording::Never);
    let bot_id = settings.skill.bot_ids.first().map(String::as_str);
    let body = kakao_request(&utterance, bot_id).to_string();
    let request = parse_skill_request(body.as_bytes())
        .context("building the skill request (a bug: please report it)")?;
    let (reply, outcome) = service.answer(&request).await;
    let reply = serde_json::to_value(&reply).context("serializing the reply")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
    } else {
        print!("{}", render(&reply));
    }
    if outcome == Outcome::Unavailable {
        eprintln!(
            "artistbot: the catalog did not answer within SKILL_DB_TIMEOUT ({:?}): the reply \
             above is the skill's \"try again later\"",
            settings.skill.db_timeout
        );
        return Ok(1);
    }
    Ok(0)
}

/// The catalog, read-only: no SQLite file is created and no migration is run, so `ask`
/// on a wrong `DATABASE_URL` says so instead of answering from an empty new file.
async fn open_catalog(settings: &Settings) -> Result<Store> {
    let url = &settings.database_url;
    if let Some(file) = sqlite_file(url.expose())
        && !file.exists()
    {
        bail!(
            "no catalog at {} (DATABASE_URL): `artistbot sync` creates and fills it",
            file.display()
        );
    }
    let pool = PoolOptions {
        max_connections: 2,
        ..PoolOptions::default()
    };
    let store = Store::connect(url, pool).await?;
    match store.ensure_schema().await {
        Ok(()) => Ok(store),
        Err(StoreError::SchemaOutdated) => bail!(
            "the catalog's schema is not up to date: run `artistbot migrate` (or `artistbot \
             sync`, which migrates an SQLite file)"
        ),
        Err(error) => Err(error.into()),
    }
}

/// A skill request as Kakao i Open Builder sends it for a user typing `utterance`.
pub(crate) fn kakao_request(utterance: &str, bot_id: Option<&str>) -> Value {
    let block = json!({"id": "artistbot-ask", "name": "artistbot ask"});
    json!({
        "intent": block,
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"surface": "Kakaotalk.plusfriend"},
            "block": block,
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": "artistbot-ask", "type": "botUserKey", "properties": {}}
        },
        "bot": {"id": bot_id.unwrap_or("artistbot-ask"), "name": "artistbot ask"},
        "action": {
            "id": "artistbot-ask",
            "name": "artistbot ask",
            "params": {},
            "detailParams": {},
            "clientExtra": {}
        },
        "contexts": []
    })
}

/// The reply for a terminal: each output as Kakao draws it (a card, a carousel of lists,
/// a text), then the quick replies. Kakao's component names label each part.
pub(crate) fn render(reply: &Value) -> String {
    let mut out = String::new();
    let template = &reply["template"];
    for output in template["outputs"].as_array().into_iter().flatten() {
        let Some((kind, component)) = output.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match kind.as_str() {
            "simpleText" => {
                out.push_str("[simpleText]\n");
                for line in text(&component["text"]).lines() {
                    if line.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(&format!("  {line}\n"));
                    }
                }
            }
            "basicCard" => render_basic_card(&mut out, component),
            "listCard" => render_list_card(&mut out, component),
            "carousel" => {
                let cards = component["items"].as_array().map_or(&[][..], Vec::as_slice);
                let card_type = text(&component["type"]);
                out.push_str(&format!("[carousel of {} {card_type}s]\n", cards.len()));
                for card in cards {
                    if card_type == "listCard" {
                        render_list_card(&mut out, card);
                    } else {
                        render_basic_card(&mut out, card);
                    }
                }
            }
            other => out.push_str(&format!("[{other}] {component}\n")),
        }
        out.push('\n');
    }
    let chips = template["quickReplies"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    if !chips.is_empty() {
        let labels: Vec<String> = chips
            .iter()
            .map(|chip| {
                let (label, sends) = (text(&chip["label"]), text(&chip["messageText"]));
                if sends.is_empty() || sends == label {
                    label.to_owned()
                } else {
                    format!("{label} (sends \"{sends}\")")
                }
            })
            .collect();
        out.push_str(&format!("[quickReplies] {}\n", labels.join(" | ")));
    }
    out
}

fn render_basic_card(out: &mut String, card: &Value) {
    out.push_str(&format!("[basicCard] {}\n", text(&card["title"])));
    if let Some(description) = card["description"].as_str() {
        out.push_str(&format!("  {description}\n"));
    }
    if let Some(image) = card["thumbnail"]["imageUrl"].as_str() {
        out.push_str(&format!("  image   {image}\n"));
    }
    render_buttons(out, card);
}

fn render_list_card(out: &mut String, card: &Value) {
    out.push_str(&format!("[listCard] {}\n", text(&card["header"]["title"])));
    for (n, item) in card["items"].as_array().into_iter().flatten().enumerate() {
        let title = text(&item["title"]);
        match item["description"].as_str() {
            Some(description) => out.push_str(&format!("  {}. {title} — {description}\n", n + 1)),
            None => out.push_str(&format!("  {}. {title}\n", n + 1)),
        }
    }
    render_buttons(out, card);
}

fn render_buttons(out: &mut String, card: &Value) {
    for button in card["buttons"].as_array().into_iter().flatten() {
        let label = text(&button["label"]);
        let target = match text(&button["action"]) {
            "webLink" => text(&button["webLinkUrl"]).to_owned(),
            "message" => format!("sends \"{}\"", text(&button["messageText"])),
            other => other.to_owned(),
        };
        out.push_str(&format!("  button  {label} → {target}\n"));
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_one_the_skill_parser_reads_as_kakao_sends_it() {
        let body = kakao_request("OH MY GIRL", Some("bot-1")).to_string();
        let request = parse_skill_request(body.as_bytes()).unwrap();
        assert_eq!(request.utterance, "OH MY GIRL");
        assert_eq!(request.bot_id.as_deref(), Some("bot-1"));
        assert_eq!(request.lang.as_deref(), Some("ko"));
        assert_eq!(
            request.artist_query(&["artist"]).as_deref(),
            Some("OH MY GIRL")
        );
    }

    #[test]
    fn a_reply_is_drawn_with_its_cards_lists_and_quick_replies() {
        let reply = json!({
            "version": "2.0",
            "template": {
                "outputs": [
                    {"basicCard": {"title": "IU", "description": "팔로워 9명",
                        "thumbnail": {"imageUrl": "https://img.example/iu.jpg"},
                        "buttons": [{"label": "Spotify에서 보기", "action": "webLink",
                            "webLinkUrl": "https://open.spotify.example/iu"}]}},
                    {"carousel": {"type": "listCard", "items": [
                        {"header": {"title": "IU"}, "items": [
                            {"title": "밤편지", "description": "Palette"},
                            {"title": "좋은 날"}]}]}}
                ],
                "quickReplies": [
                    {"label": "태연", "action": "message", "messageText": "태연"},
                    {"label": "Kid Milli & L…", "action": "message", "messageText": "Kid Milli & Lil Boi"}
                ]
            }
        });

        let shown = render(&reply);

        assert_eq!(
            shown,
            "[basicCard] IU\n  팔로워 9명\n  image   https://img.example/iu.jpg\n  \
             button  Spotify에서 보기 → https://open.spotify.example/iu\n\n\
             [carousel of 1 listCards]\n[listCard] IU\n  1. 밤편지 — Palette\n  2. 좋은 날\n\n\
             [quickReplies] 태연 | Kid Milli & L… (sends \"Kid Milli & Lil Boi\")\n"
        );
    }
}
