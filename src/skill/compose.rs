//! The replies artistbot sends, in Korean, built from data already loaded.
//!
//! Owns the wording and layout of each reply: the known-artist card and carousel, the "looking it
//! up" answer for an unknown name, and the fallbacks for an empty query or an unavailable backend.
//! Limits are not this module's concern: the [`super::reply`] types enforce them whatever is
//! passed in.
//!
//! This module must not touch a database or a provider, and must not make up facts: a number or
//! genre that was not loaded is left out, never shown as zero.

use super::reply::{
    BasicCard, Button, Carousel, HttpUrl, ListCard, ListItem, QuickReply, SkillResponse, Thumbnail,
    truncate_chars,
};

/// Shown in the artist card when the artist has no usable photo. A neutral square (the artist
/// card uses a 1:1 thumbnail) on placehold.co; replace it with an image we host once there is one.
pub(crate) const DEFAULT_FALLBACK_IMAGE_URL: &str =
    "https://placehold.co/600x600/png?text=artistbot";

/// `DEFAULT_FALLBACK_IMAGE_URL`, checked at compile time.
const DEFAULT_FALLBACK_IMAGE: HttpUrl = HttpUrl::from_static(DEFAULT_FALLBACK_IMAGE_URL);

/// Related artists shown as cards after the artist's own (a listCard carousel holds five cards,
/// and four cards keep the reply short).
const MAX_RELATED_CARDS: usize = 3;
/// Tracks listed per artist card.
const MAX_TRACKS_PER_CARD: usize = 3;
/// Suggestions offered for an unknown name.
const MAX_SUGGESTIONS: usize = 3;
/// Characters of one name used in a search link: enough for any real name, and it keeps a
/// reply with a dozen links well inside Kakao's reported 30 KB bubble size.
const MAX_SEARCH_TERM_CHARS: usize = 60;
/// Characters of the user's query quoted back in a sentence.
const MAX_QUOTED_QUERY_CHARS: usize = 50;

const YOUTUBE_SEARCH_URL: &str = "https://www.youtube.com/results?search_query=";

/// A track as the reply needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct TrackView {
    /// Track title.
    pub(crate) name: String,
    /// Album title, when known.
    pub(crate) album_name: Option<String>,
    /// Album art URL, when known.
    pub(crate) image_url: Option<String>,
}

/// An artist as the reply needs it. `None` means "not known", never zero.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ArtistView {
    /// Display name.
    pub(crate) name: String,
    /// Artist photo URL.
    pub(crate) image_url: Option<String>,
    /// Spotify artist page.
    pub(crate) spotify_url: Option<String>,
    /// Deezer artist page, linked when no Spotify page is known.
    pub(crate) deezer_url: Option<String>,
    /// Spotify followers.
    pub(crate) followers: Option<i64>,
    /// Deezer fans.
    pub(crate) fans: Option<i64>,
    /// Genres, most relevant first.
    pub(crate) genres: Vec<String>,
    /// Top tracks, in rank order.
    pub(crate) tracks: Vec<TrackView>,
}

/// A found artist and its related artists (in related rank order; some may have no tracks).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ArtistPage {
    /// The artist asked for.
    pub(crate) artist: ArtistView,
    /// Related artists, in rank order.
    pub(crate) related: Vec<ArtistView>,
}

/// Settings for replies that come from configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReplyOptions {
    /// Thumbnail for an artist without a usable photo; [`DEFAULT_FALLBACK_IMAGE_URL`] is used in
    /// its place when this is not an http(s) URL.
    pub(crate) fallback_image_url: String,
}

impl Default for ReplyOptions {
    fn default() -> ReplyOptions {
        ReplyOptions {
            fallback_image_url: DEFAULT_FALLBACK_IMAGE_URL.to_owned(),
        }
    }
}

/// The reply for an artist we have: a photo card with what we know, a carousel of the artist's
/// and up to three related artists' top tracks, and the related artists as quick replies.
pub(crate) fn known_artist_reply(page: &ArtistPage, opts: &ReplyOptions) -> SkillResponse {
    let artist = &page.artist;
    let mut reply = SkillResponse::new(artist_card(artist, opts));

    let related_with_tracks = page
        .related
        .iter()
        .filter(|related| has_playable_tracks(related))
        .take(MAX_RELATED_CARDS);
    let cards = std::iter::once(artist)
        .chain(related_with_tracks)
        .map(tracks_card);
    if let Some(carousel) = Carousel::list_cards(cards) {
        reply.push_output(carousel);
    }

    let mut offered: Vec<&str> = Vec::new();
    for related in &page.related {
        let name = related.name.trim();
        if name.is_empty() || offered.contains(&name) {
            continue;
        }
        let Some(quick_reply) = QuickReply::message(name, name) else {
            continue;
        };
        if !reply.push_quick_reply(quick_reply) {
            break;
        }
        offered.push(name);
    }
    reply
}

/// The reply for a name we do not have yet: it is being looked up, ask again soon, and up to
/// three close names as quick replies when there are any. A blank query gets [`empty_query_reply`].
pub(crate) fn unknown_artist_reply(query: &str, suggestions: &[String]) -> SkillResponse {
    let query = query.trim();
    if query.is_empty() {
        return empty_query_reply();
    }
    // One line, so a pasted multi-line message cannot reshape the sentence around it.
    let quoted = truncate_chars(&single_line(query), MAX_QUOTED_QUERY_CHARS);
    let mut text = format!("'{quoted}' 아티스트를 찾아보고 있어요. 잠시 후 다시 물어봐 주세요.");

    let mut quick_replies: Vec<QuickReply> = Vec::new();
    for suggestion in suggestions {
        if quick_replies.len() == MAX_SUGGESTIONS {
            break;
        }
        let suggestion = suggestion.trim();
        let already_offered = quick_replies
            .iter()
            .any(|offered| offered.message_text() == suggestion);
        if already_offered {
            continue;
        }
        if let Some(quick_reply) = QuickReply::message(suggestion, suggestion) {
            // A tap is evidence of what the asked spelling meant (see `SkillRequest::asked`).
            quick_replies.push(quick_reply.with_asked(query));
        }
    }
    if !quick_replies.is_empty() {
        text.push_str("\n\n혹시 이 아티스트?");
    }

    let mut reply = SkillResponse::text(&text);
    for quick_reply in quick_replies {
        reply.push_quick_reply(quick_reply);
    }
    reply
}

/// The reply when the user sent nothing we can look up.
pub(crate) fn empty_query_reply() -> SkillResponse {
    SkillResponse::text(
        "어떤 아티스트가 궁금하세요? 아티스트 이름을 보내 주시면 인기곡과 관련 아티스트를 알려 드릴게요.",
    )
}

/// The reply when the data cannot be loaded in time (database slow or down).
pub(crate) fn unavailable_reply() -> SkillResponse {
    SkillResponse::text("지금은 정보를 불러오지 못했어요. 잠시 후 다시 시도해 주세요.")
}

fn artist_card(artist: &ArtistView, opts: &ReplyOptions) -> BasicCard {
    let fallback = HttpUrl::parse(&opts.fallback_image_url).unwrap_or(DEFAULT_FALLBACK_IMAGE);
    // Artist photos are square; Kakao's default 2:1 crop would cut off faces.
    let thumbnail = Thumbnail::new(artist.image_url.as_deref(), &fallback).with_fixed_ratio(true);
    let mut card = BasicCard::new(thumbnail)
        .with_title(&artist.name)
        .with_description(&artist_description(artist));
    let link = match (artist.spotify_url.as_deref(), artist.deezer_url.as_deref()) {
        (Some(spotify_url), _) => Button::web_link("Spotify에서 보기", spotify_url),
        (None, Some(deezer_url)) => Button::web_link("Deezer에서 보기", deezer_url),
        (None, None) => None,
    };
    if let Some(button) = link {
        card.push_button(button);
    }
    card
}

/// What we know about the artist, one fact after another; an invitation when we know nothing.
fn artist_description(artist: &ArtistView) -> String {
    let mut facts: Vec<String> = Vec::new();
    if let Some(followers) = artist.followers.filter(|count| *count >= 0) {
        facts.push(format!("팔로워 {}명", group_thousands(followers)));
    }
    if let Some(fans) = artist.fans.filter(|count| *count >= 0) {
        facts.push(format!("Deezer 팬 {}명", group_thousands(fans)));
    }
    let genres: Vec<&str> = artist
        .genres
        .iter()
        .map(|genre| genre.trim())
        .filter(|genre| !genre.is_empty())
        .collect();
    if !genres.is_empty() {
        facts.push(genres.join(", "));
    }
    if !facts.is_empty() {
        return facts.join(" · ");
    }
    match artist.name.trim() {
        "" => "인기곡과 관련 아티스트를 들어보세요.".to_owned(),
        name => format!("{name}의 인기곡과 관련 아티스트를 들어보세요."),
    }
}

/// A listCard of the artist's top tracks, each linking to a YouTube search, with a button to
/// search for more. An artist without tracks gets one item saying they are on the way.
fn tracks_card(artist: &ArtistView) -> ListCard {
    let artist_search = youtube_search_url(&[&artist.name]);
    let mut items = playable_tracks(artist)
        .take(MAX_TRACKS_PER_CARD)
        .map(|track| {
            let mut item = ListItem::new(&track.name)
                .with_description(track.album_name.as_deref().unwrap_or(""))
                .with_link(&youtube_search_url(&[&artist.name, &track.name]));
            if let Some(image_url) = track.image_url.as_deref() {
                item = item.with_image_url(image_url);
            }
            item
        });
    let first_item = items
        .next()
        .unwrap_or_else(|| ListItem::new("곡 정보를 준비 중이에요").with_link(&artist_search));
    let mut card = ListCard::new(&artist.name, first_item);
    for item in items {
        card.push_item(item);
    }
    if let Some(button) = Button::web_link("다른 노래도 보기", &artist_search) {
        card.push_button(button);
    }
    card
}

/// Tracks worth listing: a track without a name can be neither shown nor searched for.
fn playable_tracks(artist: &ArtistView) -> impl Iterator<Item = &TrackView> {
    artist
        .tracks
        .iter()
        .filter(|track| !track.name.trim().is_empty())
}

fn has_playable_tracks(artist: &ArtistView) -> bool {
    playable_tracks(artist).next().is_some()
}

/// A YouTube search for the terms joined by spaces, each cleaned of control characters and cut
/// to [`MAX_SEARCH_TERM_CHARS`].
fn youtube_search_url(terms: &[&str]) -> String {
    let query = terms
        .iter()
        .map(|term| search_term(term))
        .filter(|term| !term.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    format!("{YOUTUBE_SEARCH_URL}{}", percent_encode_query(&query))
}

/// `term` on one line, cut (without a marker: it is a search, not a display) to
/// [`MAX_SEARCH_TERM_CHARS`].
fn search_term(term: &str) -> String {
    single_line(term)
        .chars()
        .take(MAX_SEARCH_TERM_CHARS)
        .collect()
}

/// `text` with control characters turned into spaces and runs of whitespace collapsed to one.
fn single_line(text: &str) -> String {
    let spaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    spaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Percent-encodes a query-string value: RFC 3986 unreserved characters stay, a space becomes
/// `+` (form encoding, which YouTube reads), every other byte of the UTF-8 becomes `%XX`.
fn percent_encode_query(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(char::from(byte));
            }
            b' ' => encoded.push('+'),
            _ => {
                encoded.push('%');
                encoded.push(char::from(HEX[usize::from(byte >> 4)]));
                encoded.push(char::from(HEX[usize::from(byte & 0x0F)]));
            }
        }
    }
    encoded
}

/// `1234567` as "1,234,567"; negative numbers keep their sign (callers filter them out anyway).
fn group_thousands(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        grouped.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::super::reply::test_support::{any_text, any_url_text, check_reply};
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    // --- fixtures -------------------------------------------------------------------------

    fn track(name: &str, album: &str, n: u32) -> TrackView {
        TrackView {
            name: name.to_owned(),
            album_name: Some(album.to_owned()),
            image_url: Some(format!("https://i.scdn.example/album/{n:03}.jpg")),
        }
    }

    fn artist(name: &str, tracks: Vec<TrackView>) -> ArtistView {
        ArtistView {
            name: name.to_owned(),
            tracks,
            ..ArtistView::default()
        }
    }

    fn page_with_three_related() -> ArtistPage {
        ArtistPage {
            artist: ArtistView {
                name: "아이유".to_owned(),
                image_url: Some("https://i.scdn.example/artist/iu.jpg".to_owned()),
                spotify_url: Some("https://open.spotify.example/artist/iu".to_owned()),
                deezer_url: Some("https://www.deezer.com/artist/1234".to_owned()),
                followers: Some(9_876_543),
                fans: Some(123_456),
                genres: vec!["k-pop".to_owned(), "k-ballad".to_owned()],
                tracks: vec![
                    track("Love wins all", "Love wins all", 1),
                    track("밤편지", "Palette", 2),
                    track("좋은 날", "REAL", 3),
                    track("Blueming", "Love poem", 4),
                ],
            },
            related: vec![
                artist(
                    "태연",
                    vec![
                        track("INVU", "INVU", 5),
                        track("그대라는 시", "호텔 델루나 OST", 6),
                    ],
                ),
                artist("신인 아티스트", vec![]),
                ArtistView {
                    name: "볼빨간사춘기".to_owned(),
                    image_url: Some("ftp://not-http.example/bol4.jpg".to_owned()),
                    tracks: vec![TrackView {
                        name: "우주를 줄게".to_owned(),
                        album_name: None,
                        image_url: Some("not a url".to_owned()),
                    }],
                    ..ArtistView::default()
                },
            ],
        }
    }

    fn page_without_related() -> ArtistPage {
        ArtistPage {
            artist: ArtistView {
                name: "NewJeans".to_owned(),
                image_url: None,
                spotify_url: None,
                deezer_url: None,
                followers: None,
                fans: None,
                genres: vec![],
                tracks: vec![track("Hype Boy", "New Jeans", 7)],
            },
            related: vec![],
        }
    }

    fn json_of(reply: &SkillResponse) -> Value {
        serde_json::to_value(reply).unwrap()
    }

    /// Snapshots are named without the module path so they survive the move into the main crate
    /// (keep them in a `snapshots/` folder next to this file).
    macro_rules! assert_reply_snapshot {
        ($name:literal, $reply:expr) => {
            insta::with_settings!({prepend_module_to_snapshot => false}, {
                insta::assert_json_snapshot!($name, $reply);
            })
        };
    }

    // --- snapshots ------------------------------------------------------------------------

    #[test]
    fn known_artist_with_three_related_one_without_tracks() {
        let reply = known_artist_reply(&page_with_three_related(), &ReplyOptions::default());

        assert_reply_snapshot!("known_artist_with_related", reply);
    }

    #[test]
    fn known_artist_without_related() {
        let reply = known_artist_reply(&page_without_related(), &ReplyOptions::default());

        assert_reply_snapshot!("known_artist_without_related", reply);
    }

    #[test]
    fn unknown_artist_without_suggestions() {
        assert_reply_snapshot!("unknown_artist", unknown_artist_reply("오마이걸\n", &[]));
    }

    #[test]
    fn unknown_artist_with_suggestions() {
        let suggestions = [
            "OH MY GIRL",
            "오마이걸 반하나",
            "",
            "OH MY GIRL",
            "효정",
            "미미",
        ]
        .map(str::to_owned);

        assert_reply_snapshot!(
            "unknown_artist_with_suggestions",
            unknown_artist_reply("오마이갈", &suggestions)
        );
    }

    #[test]
    fn unavailable() {
        assert_reply_snapshot!("unavailable", unavailable_reply());
    }

    #[test]
    fn empty_query() {
        assert_reply_snapshot!("empty_query", empty_query_reply());
    }

    // --- behaviour ------------------------------------------------------------------------

    #[test]
    fn related_without_tracks_get_no_card_but_still_a_quick_reply() {
        let reply = json_of(&known_artist_reply(
            &page_with_three_related(),
            &ReplyOptions::default(),
        ));

        let headers: Vec<&str> = reply["template"]["outputs"][1]["carousel"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|card| card["header"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(headers, ["아이유", "태연", "볼빨간사춘기"]);
        let quick_replies: Vec<&str> = reply["template"]["quickReplies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|quick_reply| quick_reply["messageText"].as_str().unwrap())
            .collect();
        assert_eq!(quick_replies, ["태연", "신인 아티스트", "볼빨간사춘기"]);
    }

    #[test]
    fn at_most_three_related_cards_in_related_order() {
        let mut page = page_without_related();
        page.related = (1..=6)
            .map(|n| artist(&format!("related {n}"), vec![track("song", "album", n)]))
            .collect();

        let reply = json_of(&known_artist_reply(&page, &ReplyOptions::default()));

        let cards = reply["template"]["outputs"][1]["carousel"]["items"]
            .as_array()
            .unwrap();
        let headers: Vec<&str> = cards
            .iter()
            .map(|card| card["header"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(headers, ["NewJeans", "related 1", "related 2", "related 3"]);
    }

    #[test]
    fn artist_without_tracks_still_gets_a_card_saying_songs_are_coming() {
        let page = ArtistPage {
            artist: artist("QWER", vec![TrackView::default()]),
            related: vec![],
        };

        let reply = json_of(&known_artist_reply(&page, &ReplyOptions::default()));

        let card = &reply["template"]["outputs"][1]["carousel"]["items"][0];
        assert_eq!(card["header"]["title"], "QWER");
        assert_eq!(card["items"][0]["title"], "곡 정보를 준비 중이에요");
        assert_eq!(
            card["items"][0]["link"]["web"],
            "https://www.youtube.com/results?search_query=QWER"
        );
    }

    #[test]
    fn artist_card_says_nothing_it_does_not_know() {
        let reply = json_of(&known_artist_reply(
            &page_without_related(),
            &ReplyOptions::default(),
        ));

        let card = &reply["template"]["outputs"][0]["basicCard"];
        assert_eq!(
            card["description"],
            "NewJeans의 인기곡과 관련 아티스트를 들어보세요."
        );
        assert!(card.get("buttons").is_none(), "no Spotify URL, no button");
        assert_eq!(card["thumbnail"]["imageUrl"], DEFAULT_FALLBACK_IMAGE_URL);
    }

    #[test]
    fn artist_card_links_deezer_only_when_no_spotify_page_is_known() {
        let mut page = page_without_related();
        page.artist.deezer_url = Some("https://www.deezer.com/artist/75798".to_owned());

        let deezer_only = json_of(&known_artist_reply(&page, &ReplyOptions::default()));
        let both = json_of(&known_artist_reply(
            &page_with_three_related(),
            &ReplyOptions::default(),
        ));

        let button = &deezer_only["template"]["outputs"][0]["basicCard"]["buttons"][0];
        assert_eq!(button["label"], "Deezer에서 보기");
        assert_eq!(button["webLinkUrl"], "https://www.deezer.com/artist/75798");
        let buttons = &both["template"]["outputs"][0]["basicCard"]["buttons"];
        assert_eq!(buttons.as_array().unwrap().len(), 1, "{buttons}");
        assert_eq!(buttons[0]["label"], "Spotify에서 보기");
    }

    #[test]
    fn artist_card_lists_only_known_facts() {
        let mut page = page_without_related();
        page.artist.fans = Some(0);
        page.artist.followers = Some(-5);
        page.artist.genres = vec![" ".to_owned(), "k-pop".to_owned()];

        let reply = json_of(&known_artist_reply(&page, &ReplyOptions::default()));

        assert_eq!(
            reply["template"]["outputs"][0]["basicCard"]["description"],
            "Deezer 팬 0명 · k-pop"
        );
    }

    #[test]
    fn invalid_configured_fallback_uses_the_default_image() {
        let opts = ReplyOptions {
            fallback_image_url: "/static/fallback.png".to_owned(),
        };

        let reply = json_of(&known_artist_reply(&page_without_related(), &opts));

        assert_eq!(
            reply["template"]["outputs"][0]["basicCard"]["thumbnail"]["imageUrl"],
            DEFAULT_FALLBACK_IMAGE_URL
        );
    }

    #[test]
    fn configured_fallback_is_used_for_a_non_http_photo() {
        let opts = ReplyOptions {
            fallback_image_url: "https://cdn.artistbot.example/none.png".to_owned(),
        };
        let mut page = page_without_related();
        page.artist.image_url = Some("javascript:void(0)".to_owned());

        let reply = json_of(&known_artist_reply(&page, &opts));

        assert_eq!(
            reply["template"]["outputs"][0]["basicCard"]["thumbnail"]["imageUrl"],
            "https://cdn.artistbot.example/none.png"
        );
    }

    #[test]
    fn quick_replies_skip_blank_and_repeated_names_and_stop_at_ten() {
        let mut page = page_without_related();
        page.related = std::iter::once(artist(" ", vec![]))
            .chain(std::iter::once(artist("dup", vec![])))
            .chain((0..15).map(|n| artist(if n == 0 { "dup" } else { "x" }, vec![])))
            .chain((0..15).map(|n| artist(&format!("artist {n}"), vec![])))
            .collect();

        let reply = known_artist_reply(&page, &ReplyOptions::default());

        let texts: Vec<&str> = reply
            .quick_replies()
            .iter()
            .map(QuickReply::message_text)
            .collect();
        assert_eq!(
            texts,
            [
                "dup", "x", "artist 0", "artist 1", "artist 2", "artist 3", "artist 4", "artist 5",
                "artist 6", "artist 7"
            ]
        );
    }

    #[test]
    fn unknown_artist_with_blank_query_asks_for_a_name() {
        assert_eq!(unknown_artist_reply(" \n", &[]), empty_query_reply());
    }

    #[test]
    fn unknown_artist_quotes_a_long_query_shortened() {
        let reply = unknown_artist_reply(&"가".repeat(300), &[]);

        let text = json_of(&reply)["template"]["outputs"][0]["simpleText"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            text.starts_with(&format!("'{}…'", "가".repeat(49))),
            "{text}"
        );
    }

    #[test]
    fn unknown_artist_quotes_a_multi_line_query_on_one_line() {
        let reply = unknown_artist_reply("Red\n\n  Velvet\u{0}", &[]);

        let text = json_of(&reply)["template"]["outputs"][0]["simpleText"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.starts_with("'Red Velvet' 아티스트를"), "{text}");
    }

    #[test]
    fn percent_encoding_keeps_unreserved_and_encodes_the_rest() {
        assert_eq!(percent_encode_query("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            percent_encode_query("a b&c=d+e/f?"),
            "a+b%26c%3Dd%2Be%2Ff%3F"
        );
        assert_eq!(
            percent_encode_query("아이유"),
            "%EC%95%84%EC%9D%B4%EC%9C%A0"
        );
    }

    #[test]
    fn search_url_joins_artist_and_track_and_drops_control_characters() {
        assert_eq!(
            youtube_search_url(&["AC/DC", "Back\nin  Black\u{0}"]),
            "https://www.youtube.com/results?search_query=AC%2FDC+Back+in+Black"
        );
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(-12_345), "-12,345");
        assert_eq!(group_thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }

    // --- property: every limit holds on the serialized JSON ---------------------------------

    fn any_track() -> impl Strategy<Value = TrackView> {
        (any_text(), proptest::option::of(any_text()), any_url_text()).prop_map(
            |(name, album_name, image_url)| TrackView {
                name,
                album_name,
                image_url,
            },
        )
    }

    fn any_artist() -> impl Strategy<Value = ArtistView> {
        (
            any_text(),
            any_url_text(),
            any_url_text(),
            proptest::option::of(any::<i64>()),
            proptest::option::of(any::<i64>()),
            proptest::collection::vec(any_text(), 0..5),
            proptest::collection::vec(any_track(), 0..=15),
        )
            .prop_map(
                |(name, image_url, spotify_url, followers, fans, genres, tracks)| ArtistView {
                    name,
                    image_url,
                    deezer_url: None,
                    spotify_url,
                    followers,
                    fans,
                    genres,
                    tracks,
                },
            )
    }

    fn any_page() -> impl Strategy<Value = ArtistPage> {
        (
            any_artist(),
            proptest::collection::vec(any_artist(), 0..=20),
        )
            .prop_map(|(artist, related)| ArtistPage { artist, related })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn known_artist_reply_respects_every_kakao_limit(
            page in any_page(),
            fallback in any_url_text(),
        ) {
            let opts = ReplyOptions { fallback_image_url: fallback.unwrap_or_default() };

            let reply = json_of(&known_artist_reply(&page, &opts));

            check_reply(&reply)?;
            let outputs = reply["template"]["outputs"].as_array().unwrap();
            prop_assert_eq!(outputs.len(), 2);
            prop_assert!(outputs[0].get("basicCard").is_some());
            prop_assert_eq!(&outputs[1]["carousel"]["type"], "listCard");
        }

        #[test]
        fn unknown_artist_reply_respects_every_kakao_limit(
            query in any_text(),
            suggestions in proptest::collection::vec(any_text(), 0..8),
        ) {
            let reply = json_of(&unknown_artist_reply(&query, &suggestions));

            check_reply(&reply)?;
            let quick_replies = reply["template"]
                .get("quickReplies")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            prop_assert!(quick_replies <= MAX_SUGGESTIONS);
        }
    }
}
