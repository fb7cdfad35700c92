//! Kakao skill response types (version "2.0") whose limits hold by construction.
//!
//! Owns the wire shape of a reply and every limit Kakao puts on it: counts of outputs, quick
//! replies, carousel items, list items and buttons, text lengths in characters, and which URLs may
//! appear. Fields are private and every constructor cleans, truncates and caps, so any value of
//! these types serializes to a reply Kakao accepts: a reply that breaks a limit is dropped by Kakao
//! or gets the bot restricted, and no caller should have to remember the numbers.
//!
//! This module knows nothing about artists, tracks or where data comes from; it must not grow
//! domain wording beyond neutral placeholders.

use std::borrow::Cow;

use serde::{Serialize, Serializer};

use crate::names::clean_text;

/// Outputs (speech bubbles) one reply may carry.
pub const MAX_OUTPUTS: usize = 3;
/// Quick replies under one reply.
pub const MAX_QUICK_REPLIES: usize = 10;
/// Characters in a simpleText.
pub const MAX_SIMPLE_TEXT_CHARS: usize = 1000;
/// Characters in a card title (basicCard title, listCard header, list item title).
pub const MAX_TITLE_CHARS: usize = 50;
/// Characters in a card description (basicCard, list item).
pub const MAX_DESCRIPTION_CHARS: usize = 230;
/// Buttons on one card.
pub const MAX_CARD_BUTTONS: usize = 3;
/// Items in a listCard shown on its own.
pub const MAX_LIST_ITEMS: usize = 5;
/// Items in a listCard inside a carousel.
pub const MAX_LIST_ITEMS_IN_CAROUSEL: usize = 4;
/// Cards in a carousel of basicCards.
pub const MAX_CAROUSEL_BASIC_CARDS: usize = 10;
/// Cards in a carousel of listCards.
pub const MAX_CAROUSEL_LIST_CARDS: usize = 5;
/// Characters in a button label when it has a row to itself.
pub const MAX_BUTTON_LABEL_CHARS: usize = 14;
/// Characters in a button label when buttons sit side by side (any card with two or more).
pub const MAX_SIDE_BY_SIDE_LABEL_CHARS: usize = 8;
/// Characters in a quick reply label.
pub const MAX_QUICK_REPLY_LABEL_CHARS: usize = 14;
/// Characters in the text a button or quick reply sends as the user.
pub const MAX_MESSAGE_TEXT_CHARS: usize = 1000;
/// Bytes in a URL we pass on. Kakao publishes no number; past the common 2 KB browser limit a
/// link is more likely broken than useful, and a cut URL would be a wrong link, so it is dropped.
pub const MAX_URL_BYTES: usize = 2048;

/// Marks text that was cut.
const ELLIPSIS: char = '…';
/// Stands in for a required title that was empty.
const UNTITLED: &str = "(제목 없음)";
/// Stands in for a required simpleText that was empty.
const EMPTY_TEXT: &str = "(내용 없음)";
/// Stands in for a required button label that was empty ("go to").
const DEFAULT_BUTTON_LABEL: &str = "바로가기";

/// `s` cut to at most `max` characters (Unicode scalar values), ending in "…" when it was cut.
///
/// The "…" counts toward `max`. Whitespace and a dangling zero-width joiner before the "…" are
/// dropped, so a ZWJ emoji sequence cut in the middle does not leave an invisible joiner behind.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let kept: String = s.chars().take(max - 1).collect();
    let mut kept = kept
        .trim_end_matches(|c: char| c.is_whitespace() || c == '\u{200D}')
        .to_owned();
    kept.push(ELLIPSIS);
    kept
}

/// Text for a one-line field: control and invisible format characters (bidi overrides,
/// zero-width marks) removed, every run of whitespace one space, outer whitespace trimmed
/// ([`clean_text`]): catalog names come from providers, and a reversed or invisible name
/// must not reach a chat.
fn clean_line(s: &str) -> String {
    clean_text(s)
}

/// Text for a simpleText: like [`clean_line`] line by line, since Kakao renders line
/// breaks there. `\r` is dropped so Windows line ends do not double.
fn clean_multiline(s: &str) -> String {
    let lines: Vec<String> = s.split('\n').map(clean_text).collect();
    lines.join("\n").trim().to_owned()
}

/// Cleaned, cut text for a field Kakao requires: `placeholder` when nothing is left.
fn required_line(s: &str, max: usize, placeholder: &str) -> String {
    let cleaned = clean_line(s);
    let text = if cleaned.is_empty() {
        placeholder
    } else {
        &cleaned
    };
    truncate_chars(text, max)
}

/// Cleaned, cut text for an optional field: `None` when nothing is left.
fn optional_line(s: &str, max: usize) -> Option<String> {
    let cleaned = clean_line(s);
    (!cleaned.is_empty()).then(|| truncate_chars(&cleaned, max))
}

/// An absolute `http://` or `https://` URL, the only kind we let into a reply: other schemes
/// (`javascript:`, `intent:`, relative paths) are either refused by Kakao or unsafe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl(Cow<'static, str>);

impl HttpUrl {
    /// The URL, trimmed and with a lower-case scheme, when it is http(s) with a host, has no
    /// whitespace or control characters inside, and fits [`MAX_URL_BYTES`]; `None` otherwise.
    pub fn parse(candidate: &str) -> Option<HttpUrl> {
        let (scheme, rest) = candidate.trim().split_once("://")?;
        // The scheme is lower-cased so "HTTPS://" is accepted and cannot slip past a later
        // case-sensitive check.
        let url = format!("{}://{rest}", scheme.to_ascii_lowercase());
        let acceptable = has_http_prefix(url.as_bytes())
            && url.len() <= MAX_URL_BYTES
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        acceptable.then_some(HttpUrl(Cow::Owned(url)))
    }

    /// A URL known when the program is written, checked at compile time when used in a `const`.
    ///
    /// # Panics
    /// When `url` is not an http(s) URL with a host; in a `const` that is a compile error.
    pub const fn from_static(url: &'static str) -> HttpUrl {
        assert!(
            has_http_prefix(url.as_bytes()),
            "HttpUrl::from_static needs an http(s) URL with a host"
        );
        HttpUrl(Cow::Borrowed(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for HttpUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `http://` or `https://` (lower case) followed by at least one character that is not `/`, so
/// "https://" and "http:///path" (no host) are refused. `const` for [`HttpUrl::from_static`].
const fn has_http_prefix(url: &[u8]) -> bool {
    let prefix_len = if starts_with(url, b"https://") {
        8
    } else if starts_with(url, b"http://") {
        7
    } else {
        return false;
    };
    url.len() > prefix_len && url[prefix_len] != b'/'
}

const fn starts_with(text: &[u8], prefix: &[u8]) -> bool {
    if text.len() < prefix.len() {
        return false;
    }
    let mut index = 0;
    while index < prefix.len() {
        if text[index] != prefix[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// A link target (`{"web": url}`), used by list items and thumbnails.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    web: HttpUrl,
}

impl Link {
    /// A web link, or `None` when `url` is not http(s).
    pub fn web(url: &str) -> Option<Link> {
        HttpUrl::parse(url).map(|web| Link { web })
    }
}

/// A full reply: `{"version":"2.0","template":{"outputs":[..],"quickReplies":[..]}}`.
///
/// Always holds 1 to [`MAX_OUTPUTS`] outputs and at most [`MAX_QUICK_REPLIES`] quick replies: the
/// first output is taken by [`SkillResponse::new`], later ones past the cap are refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillResponse {
    version: &'static str,
    template: SkillTemplate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct SkillTemplate {
    outputs: Vec<Output>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    quick_replies: Vec<QuickReply>,
}

impl SkillResponse {
    /// A reply whose first bubble is `first_output`. Taking it here is what makes an empty reply
    /// impossible.
    pub fn new(first_output: impl Into<Output>) -> SkillResponse {
        SkillResponse {
            version: "2.0",
            template: SkillTemplate {
                outputs: vec![first_output.into()],
                quick_replies: Vec::new(),
            },
        }
    }

    /// A reply of a single simpleText.
    pub fn text(text: &str) -> SkillResponse {
        SkillResponse::new(SimpleText::new(text))
    }

    /// Adds a bubble; returns `false` (and drops it) when the reply already has [`MAX_OUTPUTS`].
    pub fn push_output(&mut self, output: impl Into<Output>) -> bool {
        push_capped(&mut self.template.outputs, output.into(), MAX_OUTPUTS)
    }

    /// Adds a quick reply; returns `false` (and drops it) past [`MAX_QUICK_REPLIES`].
    pub fn push_quick_reply(&mut self, quick_reply: QuickReply) -> bool {
        push_capped(
            &mut self.template.quick_replies,
            quick_reply,
            MAX_QUICK_REPLIES,
        )
    }

    /// The bubbles, in order.
    pub fn outputs(&self) -> &[Output] {
        &self.template.outputs
    }

    /// The quick replies, in order.
    pub fn quick_replies(&self) -> &[QuickReply] {
        &self.template.quick_replies
    }
}

fn push_capped<T>(items: &mut Vec<T>, item: T, max: usize) -> bool {
    if items.len() >= max {
        return false;
    }
    items.push(item);
    true
}

/// One bubble of a reply. Every variant holds an already valid component, so the variants are
/// open for matching and for construction.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Output {
    /// `{"simpleText": {..}}`
    SimpleText(SimpleText),
    /// `{"basicCard": {..}}`
    BasicCard(BasicCard),
    /// `{"listCard": {..}}`
    ListCard(ListCard),
    /// `{"carousel": {..}}`
    Carousel(Carousel),
}

impl From<SimpleText> for Output {
    fn from(component: SimpleText) -> Output {
        Output::SimpleText(component)
    }
}

impl From<BasicCard> for Output {
    fn from(component: BasicCard) -> Output {
        Output::BasicCard(component)
    }
}

impl From<ListCard> for Output {
    fn from(component: ListCard) -> Output {
        Output::ListCard(component)
    }
}

impl From<Carousel> for Output {
    fn from(component: Carousel) -> Output {
        Output::Carousel(component)
    }
}

/// A text bubble: at most [`MAX_SIMPLE_TEXT_CHARS`] characters, line breaks kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimpleText {
    text: String,
}

impl SimpleText {
    /// Cleaned and cut `text`; "(내용 없음)" when nothing is left, since Kakao requires text.
    pub fn new(text: &str) -> SimpleText {
        let cleaned = clean_multiline(text);
        let text = if cleaned.is_empty() {
            EMPTY_TEXT
        } else {
            &cleaned
        };
        SimpleText {
            text: truncate_chars(text, MAX_SIMPLE_TEXT_CHARS),
        }
    }

    /// The text as it will be sent.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A card image. Always has an http(s) URL, because a basicCard without one is refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Thumbnail {
    image_url: HttpUrl,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_ratio: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<Link>,
}

impl Thumbnail {
    /// A thumbnail showing `image_url`, or `fallback` when `image_url` is absent or not http(s).
    pub fn new(image_url: Option<&str>, fallback: &HttpUrl) -> Thumbnail {
        let image_url = image_url
            .and_then(HttpUrl::parse)
            .unwrap_or_else(|| fallback.clone());
        Thumbnail::from_url(image_url)
    }

    /// A thumbnail showing an already checked URL.
    pub fn from_url(image_url: HttpUrl) -> Thumbnail {
        Thumbnail {
            image_url,
            fixed_ratio: None,
            link: None,
        }
    }

    /// `true` shows the image in a 1:1 box; Kakao's default (`false`) center-crops it to 2:1.
    pub fn with_fixed_ratio(mut self, fixed_ratio: bool) -> Thumbnail {
        self.fixed_ratio = Some(fixed_ratio);
        self
    }

    /// Opens `url` when the image is tapped; ignored when `url` is not http(s).
    pub fn with_link(mut self, url: &str) -> Thumbnail {
        self.link = Link::web(url);
        self
    }
}

/// A card with one image, an optional title and description, and up to three buttons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BasicCard {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    thumbnail: Thumbnail,
    #[serde(skip_serializing_if = "ButtonRow::is_empty")]
    buttons: ButtonRow,
}

impl BasicCard {
    /// A card showing `thumbnail` (Kakao's one required field) and nothing else yet.
    pub fn new(thumbnail: Thumbnail) -> BasicCard {
        BasicCard {
            title: None,
            description: None,
            thumbnail,
            buttons: ButtonRow::default(),
        }
    }

    /// Sets the title, cut to [`MAX_TITLE_CHARS`]; an empty title is left out.
    pub fn with_title(mut self, title: &str) -> BasicCard {
        self.title = optional_line(title, MAX_TITLE_CHARS);
        self
    }

    /// Sets the description, cut to [`MAX_DESCRIPTION_CHARS`]; an empty one is left out.
    pub fn with_description(mut self, description: &str) -> BasicCard {
        self.description = optional_line(description, MAX_DESCRIPTION_CHARS);
        self
    }

    /// Adds a button; returns `false` (and drops it) past [`MAX_CARD_BUTTONS`].
    pub fn push_button(&mut self, button: Button) -> bool {
        self.buttons.push(button)
    }
}

/// A card listing up to five items under a header, with up to three buttons.
///
/// Always has at least one item (taken by [`ListCard::new`]), since Kakao requires items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListCard {
    header: ListCardHeader,
    items: Vec<ListItem>,
    #[serde(skip_serializing_if = "ButtonRow::is_empty")]
    buttons: ButtonRow,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct ListCardHeader {
    title: String,
}

impl ListCard {
    /// A card titled `header_title` (cut to [`MAX_TITLE_CHARS`], "(제목 없음)" when empty) whose
    /// first item is `first_item`.
    pub fn new(header_title: &str, first_item: ListItem) -> ListCard {
        ListCard {
            header: ListCardHeader {
                title: required_line(header_title, MAX_TITLE_CHARS, UNTITLED),
            },
            items: vec![first_item],
            buttons: ButtonRow::default(),
        }
    }

    /// Adds an item; returns `false` (and drops it) past [`MAX_LIST_ITEMS`]. Inside a carousel
    /// the card is cut further, to [`MAX_LIST_ITEMS_IN_CAROUSEL`].
    pub fn push_item(&mut self, item: ListItem) -> bool {
        push_capped(&mut self.items, item, MAX_LIST_ITEMS)
    }

    /// Adds a button; returns `false` (and drops it) past [`MAX_CARD_BUTTONS`].
    pub fn push_button(&mut self, button: Button) -> bool {
        self.buttons.push(button)
    }

    /// The number of items.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }
}

/// One row of a listCard: a title, and optionally a description, an image and a link.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<HttpUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<Link>,
}

impl ListItem {
    /// An item titled `title`, cut to [`MAX_TITLE_CHARS`]; "(제목 없음)" when empty.
    pub fn new(title: &str) -> ListItem {
        ListItem {
            title: required_line(title, MAX_TITLE_CHARS, UNTITLED),
            description: None,
            image_url: None,
            link: None,
        }
    }

    /// Sets the description, cut to [`MAX_DESCRIPTION_CHARS`]; an empty one is left out.
    pub fn with_description(mut self, description: &str) -> ListItem {
        self.description = optional_line(description, MAX_DESCRIPTION_CHARS);
        self
    }

    /// Sets the image; ignored when `url` is not http(s).
    pub fn with_image_url(mut self, url: &str) -> ListItem {
        self.image_url = HttpUrl::parse(url);
        self
    }

    /// Opens `url` when the item is tapped; ignored when `url` is not http(s).
    pub fn with_link(mut self, url: &str) -> ListItem {
        self.link = Link::web(url);
        self
    }
}

/// A horizontally scrolling row of cards of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Carousel {
    cards: CarouselCards,
}

/// Serializes as `{"type": "listCard", "items": [..]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "items", rename_all = "camelCase")]
enum CarouselCards {
    ListCard(Vec<ListCard>),
    BasicCard(Vec<BasicCard>),
}

impl Carousel {
    /// A carousel of the first [`MAX_CAROUSEL_LIST_CARDS`] cards, each cut to
    /// [`MAX_LIST_ITEMS_IN_CAROUSEL`] items; `None` when `cards` is empty.
    pub fn list_cards(cards: impl IntoIterator<Item = ListCard>) -> Option<Carousel> {
        let cards: Vec<ListCard> = cards
            .into_iter()
            .take(MAX_CAROUSEL_LIST_CARDS)
            .map(|mut card| {
                card.items.truncate(MAX_LIST_ITEMS_IN_CAROUSEL);
                card
            })
            .collect();
        (!cards.is_empty()).then_some(Carousel {
            cards: CarouselCards::ListCard(cards),
        })
    }

    /// A carousel of the first [`MAX_CAROUSEL_BASIC_CARDS`] cards; `None` when `cards` is empty.
    pub fn basic_cards(cards: impl IntoIterator<Item = BasicCard>) -> Option<Carousel> {
        let cards: Vec<BasicCard> = cards.into_iter().take(MAX_CAROUSEL_BASIC_CARDS).collect();
        (!cards.is_empty()).then_some(Carousel {
            cards: CarouselCards::BasicCard(cards),
        })
    }

    /// The number of cards.
    pub fn card_count(&self) -> usize {
        match &self.cards {
            CarouselCards::ListCard(cards) => cards.len(),
            CarouselCards::BasicCard(cards) => cards.len(),
        }
    }
}

/// A card's buttons: at most [`MAX_CARD_BUTTONS`], and labels cut to
/// [`MAX_SIDE_BY_SIDE_LABEL_CHARS`] as soon as there are two, since Kakao may then lay them out
/// side by side and we cannot tell when it will.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
struct ButtonRow(Vec<Button>);

impl ButtonRow {
    fn push(&mut self, button: Button) -> bool {
        if !push_capped(&mut self.0, button, MAX_CARD_BUTTONS) {
            return false;
        }
        if self.0.len() >= 2 {
            // Cutting an already cut label again gives the same result as cutting the original,
            // because truncation keeps a prefix.
            for button in &mut self.0 {
                button.label = truncate_chars(&button.label, MAX_SIDE_BY_SIDE_LABEL_CHARS);
            }
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A card button: opens a web page or sends a message as the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Button {
    label: String,
    #[serde(flatten)]
    action: ButtonAction,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
enum ButtonAction {
    WebLink {
        #[serde(rename = "webLinkUrl")]
        web_link_url: HttpUrl,
    },
    Message {
        #[serde(rename = "messageText")]
        message_text: String,
    },
}

impl Button {
    /// A button opening `url`; `None` when `url` is not http(s). The label is cut to
    /// [`MAX_BUTTON_LABEL_CHARS`] ("바로가기" when empty).
    pub fn web_link(label: &str, url: &str) -> Option<Button> {
        let web_link_url = HttpUrl::parse(url)?;
        Some(Button {
            label: required_line(label, MAX_BUTTON_LABEL_CHARS, DEFAULT_BUTTON_LABEL),
            action: ButtonAction::WebLink { web_link_url },
        })
    }

    /// A button that sends `message_text` (cut to [`MAX_MESSAGE_TEXT_CHARS`]) as the user. An
    /// empty label shows the message, an empty message sends the label; `None` when both are empty.
    pub fn message(label: &str, message_text: &str) -> Option<Button> {
        let (label, message_text) = label_and_message(label, message_text)?;
        Some(Button {
            label: truncate_chars(&label, MAX_BUTTON_LABEL_CHARS),
            action: ButtonAction::Message {
                message_text: truncate_chars(&message_text, MAX_MESSAGE_TEXT_CHARS),
            },
        })
    }

    /// The label as it will be sent.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// A suggestion chip under the reply that sends a message as the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReply {
    label: String,
    action: &'static str,
    message_text: String,
    /// What Kakao hands back as `action.clientExtra` when the chip is tapped.
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<QuickReplyExtra>,
}

/// The `extra` of a suggestion chip: the spelling the user had asked for, so a tap
/// tells the skill which artist that spelling meant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuickReplyExtra {
    asked: String,
}

impl QuickReply {
    /// A chip labelled `label` (cut to [`MAX_QUICK_REPLY_LABEL_CHARS`]) that sends
    /// `message_text` (cut to [`MAX_MESSAGE_TEXT_CHARS`]). An empty label shows the message, an
    /// empty message sends the label; `None` when both are empty.
    pub fn message(label: &str, message_text: &str) -> Option<QuickReply> {
        let (label, message_text) = label_and_message(label, message_text)?;
        Some(QuickReply {
            label: truncate_chars(&label, MAX_QUICK_REPLY_LABEL_CHARS),
            action: "message",
            message_text: truncate_chars(&message_text, MAX_MESSAGE_TEXT_CHARS),
            extra: None,
        })
    }

    /// The chip, carrying the spelling the user asked for (cleaned to one line and cut
    /// like a message) back to the skill when tapped; a blank spelling is left out.
    pub fn with_asked(mut self, asked: &str) -> QuickReply {
        let asked = clean_line(asked);
        self.extra = (!asked.is_empty()).then(|| QuickReplyExtra {
            asked: truncate_chars(&asked, MAX_MESSAGE_TEXT_CHARS),
        });
        self
    }

    /// The label as it will be sent.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The text the chip sends.
    pub fn message_text(&self) -> &str {
        &self.message_text
    }
}

/// Cleaned label and message, each standing in for the other when empty.
fn label_and_message(label: &str, message_text: &str) -> Option<(String, String)> {
    let label = clean_line(label);
    let message_text = clean_line(message_text);
    match (label.is_empty(), message_text.is_empty()) {
        (true, true) => None,
        (true, false) => Some((message_text.clone(), message_text)),
        (false, true) => Some((label.clone(), label)),
        (false, false) => Some((label, message_text)),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{any_text, any_url_text, check_reply};
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const FALLBACK: HttpUrl = HttpUrl::from_static("https://img.example.com/fallback.png");

    fn to_json(response: &SkillResponse) -> Value {
        serde_json::to_value(response).unwrap()
    }

    fn list_item(n: usize) -> ListItem {
        ListItem::new(&format!("item {n}"))
    }

    // --- truncate_chars -------------------------------------------------------------------

    #[test]
    fn truncate_keeps_short_ascii_unchanged() {
        assert_eq!(truncate_chars("hello", 5), "hello");
        assert_eq!(truncate_chars("", 0), "");
    }

    #[test]
    fn truncate_cuts_ascii_and_counts_the_ellipsis() {
        assert_eq!(truncate_chars("abcdefghij", 5), "abcd…");
        assert_eq!(truncate_chars("abcdefghij", 5).chars().count(), 5);
    }

    #[test]
    fn truncate_counts_hangul_syllables_as_one_character_each() {
        let title = "가나다라마바사아자차카타파하";

        assert_eq!(truncate_chars(title, 14), title);
        assert_eq!(truncate_chars(title, 8), "가나다라마바사…");
    }

    #[test]
    fn truncate_never_splits_a_multibyte_character() {
        // Each of these is 3 or 4 bytes; a byte-based cut would panic or produce invalid UTF-8.
        let mixed = "a가😀b나🎵";

        for max in 0..=mixed.chars().count() + 1 {
            let cut = truncate_chars(mixed, max);
            assert!(cut.chars().count() <= max, "max {max}: {cut}");
        }
    }

    #[test]
    fn truncate_drops_a_dangling_zero_width_joiner() {
        // family: man ZWJ woman ZWJ girl ZWJ boy (7 scalar values)
        let family = "👨\u{200D}👩\u{200D}👧\u{200D}👦";

        let cut = truncate_chars(&format!("ab{family}"), 5);

        assert_eq!(cut, "ab👨…", "the ZWJ after the man is dropped");
    }

    #[test]
    fn truncate_counts_skin_tone_modifiers_as_characters() {
        let thumbs = "👍🏽👍🏽👍🏽"; // 6 scalar values

        assert_eq!(truncate_chars(thumbs, 6), thumbs);
        assert_eq!(truncate_chars(thumbs, 4), "👍🏽👍…");
    }

    #[test]
    fn truncate_trims_whitespace_before_the_ellipsis() {
        assert_eq!(truncate_chars("Red Velvet", 5), "Red…");
    }

    #[test]
    fn truncate_to_one_character_is_just_the_ellipsis() {
        assert_eq!(truncate_chars("abc", 1), "…");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    proptest! {
        #[test]
        fn truncate_always_fits_and_keeps_a_prefix(text in "\\PC{0,80}", max in 0usize..60) {
            let cut = truncate_chars(&text, max);

            prop_assert!(cut.chars().count() <= max);
            let kept = cut.strip_suffix(ELLIPSIS).unwrap_or(&cut);
            prop_assert!(text.starts_with(kept));
        }
    }

    // --- URLs -----------------------------------------------------------------------------

    #[test]
    fn only_http_and_https_urls_with_a_host_are_accepted() {
        for good in [
            "https://i.scdn.co/image/ab67",
            "http://example.com",
            "HTTPS://EXAMPLE.COM/x",
            "  https://example.com/trimmed  ",
        ] {
            assert!(HttpUrl::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            "https://",
            "http:///path",
            "ftp://example.com/a.png",
            "javascript:alert(1)",
            "//example.com/a.png",
            "example.com",
            "https://exa mple.com",
            "https://example.com/\u{7}",
        ] {
            assert!(HttpUrl::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn overlong_url_is_dropped_rather_than_cut() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));

        assert!(HttpUrl::parse(&long).is_none());
    }

    #[test]
    fn list_item_drops_non_http_image_and_link() {
        let item = ListItem::new("곡")
            .with_image_url("data:image/png;base64,AAAA")
            .with_link("intent://open");

        assert_eq!(serde_json::to_value(&item).unwrap(), json!({"title": "곡"}));
    }

    #[test]
    fn thumbnail_falls_back_when_the_image_is_missing_or_not_http() {
        for candidate in [None, Some(""), Some("s3://bucket/key.png")] {
            let thumbnail = Thumbnail::new(candidate, &FALLBACK);

            assert_eq!(
                serde_json::to_value(&thumbnail).unwrap(),
                json!({"imageUrl": FALLBACK.as_str()})
            );
        }
    }

    #[test]
    fn web_link_button_needs_an_http_url() {
        assert!(Button::web_link("열기", "mailto:a@b.c").is_none());
        assert!(Button::web_link("열기", "https://open.spotify.com/artist/x").is_some());
    }

    // --- text cleaning --------------------------------------------------------------------

    #[test]
    fn control_characters_are_stripped_but_simple_text_keeps_line_breaks() {
        let text = SimpleText::new("첫 줄\r\n둘째\u{0}\u{1b}[31m 줄\t끝\u{85}");

        assert_eq!(text.text(), "첫 줄\n둘째[31m 줄 끝");
    }

    #[test]
    fn line_breaks_in_titles_become_spaces() {
        let item = ListItem::new("\n Hype\nBoy \u{7f}");

        assert_eq!(serde_json::to_value(&item).unwrap()["title"], "Hype Boy");
    }

    #[test]
    fn empty_required_text_gets_a_placeholder() {
        assert_eq!(SimpleText::new(" \u{0} ").text(), "(내용 없음)");
        assert_eq!(
            serde_json::to_value(ListItem::new("\u{1}")).unwrap()["title"],
            "(제목 없음)"
        );
        let card = ListCard::new("", ListItem::new("x"));
        assert_eq!(
            serde_json::to_value(&card).unwrap()["header"]["title"],
            "(제목 없음)"
        );
    }

    #[test]
    fn empty_optional_text_is_left_out() {
        let card = BasicCard::new(Thumbnail::from_url(FALLBACK))
            .with_title("  ")
            .with_description("");

        assert_eq!(
            serde_json::to_value(&card).unwrap(),
            json!({"thumbnail": {"imageUrl": FALLBACK.as_str()}})
        );
    }

    // --- counts and lengths ---------------------------------------------------------------

    #[test]
    fn reply_keeps_at_most_three_outputs() {
        let mut reply = SkillResponse::text("1");

        assert!(reply.push_output(SimpleText::new("2")));
        assert!(reply.push_output(SimpleText::new("3")));
        assert!(!reply.push_output(SimpleText::new("4")));

        assert_eq!(
            to_json(&reply)["template"]["outputs"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn reply_keeps_at_most_ten_quick_replies() {
        let mut reply = SkillResponse::text("hi");

        let accepted = (0..15)
            .filter_map(|n| QuickReply::message(&format!("q{n}"), ""))
            .filter(|quick_reply| reply.push_quick_reply(quick_reply.clone()))
            .count();

        assert_eq!(accepted, MAX_QUICK_REPLIES);
        assert_eq!(reply.quick_replies().len(), MAX_QUICK_REPLIES);
    }

    #[test]
    fn reply_without_quick_replies_omits_the_key() {
        assert_eq!(
            to_json(&SkillResponse::text("안녕하세요")),
            json!({"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "안녕하세요"}}]}})
        );
    }

    #[test]
    fn simple_text_is_cut_to_1000_characters() {
        let text = SimpleText::new(&"한".repeat(1500));

        assert_eq!(text.text().chars().count(), MAX_SIMPLE_TEXT_CHARS);
        assert!(text.text().ends_with('…'));
    }

    #[test]
    fn basic_card_cuts_title_and_description() {
        let card = BasicCard::new(Thumbnail::from_url(FALLBACK))
            .with_title(&"가".repeat(80))
            .with_description(&"나".repeat(300));

        let value = serde_json::to_value(&card).unwrap();

        assert_eq!(value["title"].as_str().unwrap().chars().count(), 50);
        assert_eq!(value["description"].as_str().unwrap().chars().count(), 230);
    }

    #[test]
    fn basic_card_keeps_three_buttons_with_side_by_side_labels() {
        let mut card = BasicCard::new(Thumbnail::from_url(FALLBACK));

        assert!(card.push_button(
            Button::web_link("아주아주긴버튼레이블입니다요오", "https://a.example").unwrap()
        ));
        assert_eq!(card.buttons.0[0].label(), "아주아주긴버튼레이블입니다…");
        assert!(card.push_button(Button::message("두번째", "두번째").unwrap()));
        assert!(card.push_button(Button::message("세번째", "세번째").unwrap()));
        assert!(!card.push_button(Button::message("네번째", "네번째").unwrap()));

        let labels: Vec<&str> = card.buttons.0.iter().map(Button::label).collect();
        assert_eq!(labels, ["아주아주긴버튼…", "두번째", "세번째"]);
    }

    #[test]
    fn button_serializes_with_kakao_field_names() {
        let web = Button::web_link("보기", "https://example.com/a").unwrap();
        let message = Button::message("", "다른 노래").unwrap();

        assert_eq!(
            serde_json::to_value(&web).unwrap(),
            json!({"label": "보기", "action": "webLink", "webLinkUrl": "https://example.com/a"})
        );
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"label": "다른 노래", "action": "message", "messageText": "다른 노래"})
        );
    }

    #[test]
    fn quick_reply_cuts_label_but_sends_the_longer_text() {
        let name = "Kid Milli & Lil Boi & pH-1 & Jay Park";

        let quick_reply = QuickReply::message(name, name).unwrap();

        assert_eq!(quick_reply.label(), "Kid Milli & L…");
        assert_eq!(quick_reply.message_text(), name);
        assert_eq!(
            serde_json::to_value(&quick_reply).unwrap(),
            json!({"label": "Kid Milli & L…", "action": "message", "messageText": name})
        );
    }

    #[test]
    fn quick_reply_with_no_text_at_all_is_refused() {
        assert!(QuickReply::message(" ", "\n").is_none());
        assert!(Button::message("", "").is_none());
    }

    #[test]
    fn list_card_keeps_five_items_standalone() {
        let mut card = ListCard::new("목록", list_item(0));

        let accepted = (1..9).filter(|n| card.push_item(list_item(*n))).count();

        assert_eq!(accepted, 4);
        assert_eq!(card.item_count(), MAX_LIST_ITEMS);
    }

    #[test]
    fn carousel_of_list_cards_keeps_five_cards_of_four_items() {
        let cards = (0..8).map(|n| {
            let mut card = ListCard::new(&format!("card {n}"), list_item(0));
            for item in 1..5 {
                card.push_item(list_item(item));
            }
            card
        });

        let carousel = Carousel::list_cards(cards).unwrap();
        let value = serde_json::to_value(&carousel).unwrap();

        assert_eq!(value["type"], "listCard");
        let items = value["items"].as_array().unwrap();
        assert_eq!(items.len(), MAX_CAROUSEL_LIST_CARDS);
        assert!(
            items
                .iter()
                .all(|card| card["items"].as_array().unwrap().len() == 4)
        );
    }

    #[test]
    fn carousel_of_basic_cards_keeps_ten_cards() {
        let cards = (0..12).map(|_| BasicCard::new(Thumbnail::from_url(FALLBACK)));

        let carousel = Carousel::basic_cards(cards).unwrap();

        assert_eq!(carousel.card_count(), MAX_CAROUSEL_BASIC_CARDS);
        assert_eq!(
            serde_json::to_value(&carousel).unwrap()["type"],
            "basicCard"
        );
    }

    #[test]
    fn empty_carousel_cannot_be_built() {
        assert!(Carousel::list_cards(Vec::new()).is_none());
        assert!(Carousel::basic_cards(Vec::new()).is_none());
    }

    // --- property: whatever goes in, the serialized reply respects every limit -------------

    /// label, message text, URL, and whether it is a web link (otherwise a message button).
    type ButtonSpec = (String, String, Option<String>, bool);
    /// title, description, image URL, link URL.
    type ListItemSpec = (String, String, Option<String>, Option<String>);
    /// header, items, buttons.
    type ListCardSpec = (String, Vec<ListItemSpec>, Vec<ButtonSpec>);
    /// title, description, image URL, buttons.
    type BasicCardSpec = (String, String, Option<String>, Vec<ButtonSpec>);

    #[derive(Debug, Clone)]
    enum OutputSpec {
        Text(String),
        Basic(BasicCardSpec),
        List(ListCardSpec),
        ListCarousel(Vec<ListCardSpec>),
        BasicCarousel(Vec<BasicCardSpec>),
    }

    fn any_button() -> impl Strategy<Value = ButtonSpec> {
        (any_text(), any_text(), any_url_text(), any::<bool>())
    }

    fn any_list_card() -> impl Strategy<Value = ListCardSpec> {
        let item = (any_text(), any_text(), any_url_text(), any_url_text());
        (
            any_text(),
            proptest::collection::vec(item, 0..8),
            proptest::collection::vec(any_button(), 0..5),
        )
    }

    fn any_basic_card() -> impl Strategy<Value = BasicCardSpec> {
        (
            any_text(),
            any_text(),
            any_url_text(),
            proptest::collection::vec(any_button(), 0..5),
        )
    }

    fn any_output() -> impl Strategy<Value = OutputSpec> {
        prop_oneof![
            any_text().prop_map(OutputSpec::Text),
            any_basic_card().prop_map(OutputSpec::Basic),
            any_list_card().prop_map(OutputSpec::List),
            proptest::collection::vec(any_list_card(), 0..8).prop_map(OutputSpec::ListCarousel),
            proptest::collection::vec(any_basic_card(), 0..13).prop_map(OutputSpec::BasicCarousel),
        ]
    }

    fn build_button((label, message_text, url, is_link): &ButtonSpec) -> Option<Button> {
        if *is_link {
            Button::web_link(label, url.as_deref().unwrap_or(""))
        } else {
            Button::message(label, message_text)
        }
    }

    fn build_list_card((header, items, buttons): &ListCardSpec) -> ListCard {
        let mut built = items.iter().map(|(title, description, image_url, link)| {
            ListItem::new(title)
                .with_description(description)
                .with_image_url(image_url.as_deref().unwrap_or(""))
                .with_link(link.as_deref().unwrap_or(""))
        });
        let first = built.next().unwrap_or_else(|| ListItem::new(""));
        let mut card = ListCard::new(header, first);
        for item in built {
            card.push_item(item);
        }
        for button in buttons.iter().filter_map(build_button) {
            card.push_button(button);
        }
        card
    }

    fn build_basic_card((title, description, image_url, buttons): &BasicCardSpec) -> BasicCard {
        let mut card = BasicCard::new(Thumbnail::new(image_url.as_deref(), &FALLBACK))
            .with_title(title)
            .with_description(description);
        for button in buttons.iter().filter_map(build_button) {
            card.push_button(button);
        }
        card
    }

    fn build_output(spec: &OutputSpec) -> Option<Output> {
        match spec {
            OutputSpec::Text(text) => Some(SimpleText::new(text).into()),
            OutputSpec::Basic(card) => Some(build_basic_card(card).into()),
            OutputSpec::List(card) => Some(build_list_card(card).into()),
            OutputSpec::ListCarousel(cards) => {
                Carousel::list_cards(cards.iter().map(build_list_card)).map(Output::from)
            }
            OutputSpec::BasicCarousel(cards) => {
                Carousel::basic_cards(cards.iter().map(build_basic_card)).map(Output::from)
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_reply_built_through_the_api_respects_every_limit(
            first in any_output(),
            more in proptest::collection::vec(any_output(), 0..5),
            quick_replies in proptest::collection::vec((any_text(), any_text()), 0..15),
        ) {
            let mut reply = SkillResponse::new(
                build_output(&first).unwrap_or_else(|| SimpleText::new("").into()),
            );
            for output in more.iter().filter_map(build_output) {
                reply.push_output(output);
            }
            for (label, message_text) in &quick_replies {
                if let Some(quick_reply) = QuickReply::message(label, message_text) {
                    reply.push_quick_reply(quick_reply);
                }
            }

            check_reply(&to_json(&reply))?;
        }
    }

    #[test]
    fn thumbnail_serializes_fixed_ratio_and_link_only_when_set() {
        let thumbnail = Thumbnail::from_url(FALLBACK)
            .with_fixed_ratio(true)
            .with_link("https://example.com/artist");

        assert_eq!(
            serde_json::to_value(&thumbnail).unwrap(),
            json!({
                "imageUrl": FALLBACK.as_str(),
                "fixedRatio": true,
                "link": {"web": "https://example.com/artist"}
            })
        );
    }
}

/// Test helpers shared with the compose tests: strategies for hostile text and URLs, and a
/// checker of every Kakao limit on a serialized reply.
///
/// The checker spells the limits as literal numbers on purpose: checking against this module's
/// constants would pass if a constant were wrong.
#[cfg(test)]
pub mod test_support {
    use proptest::prelude::*;
    use serde_json::Value;

    /// Pieces that stress counting and cleaning: ASCII, Hangul, emoji with ZWJ and skin tones,
    /// a flag, control characters, whitespace.
    fn text_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 &/.-]{1,12}",
            "[가-힣]{1,12}",
            Just("👨\u{200D}👩\u{200D}👧\u{200D}👦".to_owned()),
            Just("👍🏽".to_owned()),
            Just("🇰🇷".to_owned()),
            Just("\u{0}\u{7}\u{1b}\u{7f}\u{85}".to_owned()),
            Just("\n\r\t".to_owned()),
            Just(" ".to_owned()),
        ]
    }

    /// Text of 0 to 400 characters. A few pieces, each repeated, reach 400 characters cheaply
    /// (hundreds of separately drawn pieces per string made the tests slow) while still mixing
    /// emoji, Hangul and control characters around every cut point.
    pub fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            1 => Just(String::new()),
            6 => proptest::collection::vec((text_piece(), 1..40usize), 0..4).prop_map(|pieces| {
                pieces
                    .iter()
                    .map(|(piece, times)| piece.repeat(*times))
                    .collect::<String>()
                    .chars()
                    .take(400)
                    .collect()
            }),
        ]
    }

    /// Absent, good, and bad URLs, including arbitrary text.
    pub fn any_url_text() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some(String::new())),
            Just(Some(
                "https://i.scdn.example/image/ab67616d0000b273".to_owned()
            )),
            Just(Some("http://img.example.com/a.jpg".to_owned())),
            Just(Some("HTTPS://IMG.EXAMPLE.COM/UPPER.JPG".to_owned())),
            Just(Some("ftp://img.example.com/a.jpg".to_owned())),
            Just(Some("javascript:alert(1)".to_owned())),
            Just(Some("https://".to_owned())),
            Just(Some(" https://img.example.com/spaced.jpg ".to_owned())),
            any_text().prop_map(Some),
        ]
    }

    /// Checks every limit Kakao puts on a reply against `testkit`'s independent oracle.
    pub fn check_reply(reply: &Value) -> Result<(), TestCaseError> {
        testkit::kakao::check_reply(reply).map_err(TestCaseError::fail)
    }
}
