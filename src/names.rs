//! Artist names and references as people type them.
//!
//! [`name_key`] is the one folding rule the whole product uses: the sync engine to match
//! Spotify and Deezer artists, the store to index names and aliases, the skill endpoint
//! to look up what a user typed. Changing it changes every stored key, so it is tested
//! here against the cases that matter (Hangul, Kana, accents, punctuation, emoji).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds a name for comparison: Unicode NFKC, lower case, Latin accents removed, and
/// spacing and punctuation dropped. CJK text is left as it is (never transliterated), so
/// "아이브" and "IVE" stay different keys; aliases connect them.
///
/// A name made only of punctuation or symbols ("!!!", "🌈") would fold to nothing; it
/// keeps its symbols instead (spaces removed), so it still has a key of its own.
pub fn name_key(name: &str) -> String {
    // NFKD separates Latin accents from their letters so they can be dropped; the marks
    // of other scripts (Devanagari vowel signs, Kana voicing marks) are kept, then NFKC
    // puts everything back together.
    let decomposed: String = name
        .nfkd()
        .filter(|c| !is_latin_accent(*c))
        .collect::<String>()
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect();
    let key: String = decomposed
        .chars()
        .filter(|c| c.is_alphanumeric() || is_combining_mark(*c))
        .collect();
    if key.is_empty() {
        decomposed.chars().filter(|c| !c.is_whitespace()).collect()
    } else {
        key
    }
}

/// Text a user typed, made safe to store, log and echo: control characters (C0, DEL,
/// C1) and Unicode format characters (zero-width spaces and joiners, the soft hyphen,
/// the byte-order mark, tag characters, and every bidirectional mark, embedding,
/// override and isolate) are removed; line breaks, tabs and other spacing become one
/// plain space; the result is trimmed. Such characters are invisible, so they can only
/// make two names that look the same differ, or turn a reply's text around.
///
/// One format character is kept: a zero-width joiner between two pictographs, which
/// glues emoji into one (👩‍🎤); anywhere else it is just another invisible character.
pub fn clean_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut cleaned = String::with_capacity(text.len());
    let mut pending_space = false;
    for (i, &c) in chars.iter().enumerate() {
        if c.is_whitespace() {
            pending_space = !cleaned.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if is_format_char(c) {
            let glues_emoji = c == '\u{200D}'
                && cleaned.chars().next_back().is_some_and(is_pictograph_part)
                && chars.get(i + 1).copied().is_some_and(is_pictograph);
            if !glues_emoji {
                continue;
            }
        }
        if pending_space {
            cleaned.push(' ');
            pending_space = false;
        }
        cleaned.push(c);
    }
    cleaned
}

/// Unicode's format characters (general category Cf), as of Unicode 15.1: invisible
/// characters that change how neighbouring text is shown or joined; and the other
/// default-ignorable characters people use as invisible text (the Hangul fillers).
/// Variation selectors stay: emoji need them.
fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            // Not format characters, but as invisible: the Hangul fillers people paste as
            // "blank" text in KakaoTalk, the combining grapheme joiner, Khmer's inherent
            // vowels and Mongolian's variation selectors.
            | '\u{115F}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{FFA0}'
            | '\u{034F}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
    )
}

/// A character an emoji sequence is built of: a pictograph, or the variation selector
/// and skin-tone modifiers that follow one.
fn is_pictograph_part(c: char) -> bool {
    is_pictograph(c) || c == '\u{FE0F}' || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// The blocks emoji live in (pictographs, dingbats, miscellaneous symbols).
fn is_pictograph(c: char) -> bool {
    ('\u{1F000}'..='\u{1FAFF}').contains(&c) || ('\u{2600}'..='\u{27BF}').contains(&c)
}

/// The combining diacritics Latin, Greek and Cyrillic letters carry (é = e + U+0301).
fn is_latin_accent(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// Whether `text` is short enough to be someone's name rather than a sentence: at most
/// `max_chars` characters and `max_words` words, and no question or exclamation mark.
/// Used to keep chat ("노래 추천해줘?") out of the request queue and out of aliases.
pub(crate) fn could_be_a_name(text: &str, max_chars: usize, max_words: usize) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text.chars().count() <= max_chars
        && text.split_whitespace().count() <= max_words
        && !text.contains(['?', '？', '!', '！'])
}

/// What a user gave to `artistbot add`: a Spotify id or link, a Deezer id or link, or a
/// name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtistRef {
    SpotifyId(String),
    DeezerId(i64),
    Name(String),
}

/// Reads a Spotify artist id (22 base62 characters), an `open.spotify.com/.../artist/ID`
/// link (any locale prefix, any query), a `spotify:artist:ID` URI, a Deezer artist link
/// (`www.deezer.com/.../artist/123`), `deezer:artist:123` or `deezer:123`, or else a
/// name. A bare number is a name ("112", "1975" are bands). Returns `None` for blank
/// input.
pub fn parse_artist_ref(input: &str) -> Option<ArtistRef> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    if let Some(id) = input.strip_prefix("spotify:artist:") {
        return Some(ArtistRef::SpotifyId(id.to_owned()));
    }
    if let Some(id) = input
        .strip_prefix("deezer:artist:")
        .or_else(|| input.strip_prefix("deezer:"))
        .and_then(deezer_id)
    {
        return Some(ArtistRef::DeezerId(id));
    }
    if let Some(rest) = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))
        && let Some(path) = ["www.deezer.com/", "deezer.com/"]
            .iter()
            .find_map(|host| rest.strip_prefix(host))
    {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut segments = path.split('/');
        while let Some(segment) = segments.next() {
            if segment == "artist"
                && let Some(id) = segments.next().and_then(deezer_id)
            {
                return Some(ArtistRef::DeezerId(id));
            }
        }
        return Some(ArtistRef::Name(input.to_owned()));
    }
    if let Some(rest) = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))
        && rest.starts_with("open.spotify.com/")
    {
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        let mut segments = path.split('/');
        while let Some(segment) = segments.next() {
            if segment == "artist"
                && let Some(id) = segments.next()
                && is_spotify_id(id)
            {
                return Some(ArtistRef::SpotifyId(id.to_owned()));
            }
        }
        return Some(ArtistRef::Name(input.to_owned()));
    }
    if is_spotify_id(input) && input.chars().any(|c| c.is_ascii_digit()) {
        return Some(ArtistRef::SpotifyId(input.to_owned()));
    }
    Some(ArtistRef::Name(input.to_owned()))
}

/// A Deezer artist id: a positive number.
fn deezer_id(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
        .filter(|id| *id > 0)
}

/// Spotify ids are 22 characters of base62. (A 22-letter word without digits is read as
/// a name by [`parse_artist_ref`]; real ids almost always contain a digit.)
pub(crate) fn is_spotify_id(s: &str) -> bool {
    s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_spacing_and_punctuation_fold_away() {
        assert_eq!(name_key("OH MY GIRL"), "ohmygirl");
        assert_eq!(name_key("  oh-my girl! "), "ohmygirl");
        assert_eq!(name_key("IZ*ONE"), "izone");
        assert_eq!(name_key("fromis_9"), "fromis9");
        assert_eq!(name_key("(G)I-DLE"), "gidle");
    }

    #[test]
    fn latin_accents_fold_but_other_scripts_keep_their_marks() {
        assert_eq!(name_key("Beyoncé"), name_key("Beyonce"));
        assert_eq!(name_key("Mötley Crüe"), "motleycrue");
        // Kana voicing marks are meaning, not decoration: ガ is not カ.
        assert_ne!(name_key("ガ"), name_key("カ"));
        assert_eq!(name_key("ガ"), "ガ");
        // Devanagari vowel signs survive.
        assert_eq!(name_key("हिंदी"), "हिंदी");
    }

    #[test]
    fn hangul_is_left_as_hangul() {
        assert_eq!(name_key("아이브"), "아이브");
        assert_eq!(name_key("오마이 걸"), "오마이걸");
        assert_ne!(name_key("아이브"), name_key("IVE"));
        // Compatibility forms fold to the same key (NFKC): full-width Latin letters.
        assert_eq!(name_key("ＩＶＥ"), "ive");
    }

    #[test]
    fn names_without_letters_still_get_a_key() {
        assert_eq!(name_key("!!!"), "!!!");
        assert_eq!(name_key("🌈 🌈"), "🌈🌈");
        assert_ne!(name_key("🌈"), name_key("🔥"));
        assert_eq!(name_key("   "), "");
    }

    #[test]
    fn clean_text_drops_control_format_and_bidi_characters() {
        // Bidi override, isolates and marks around a name.
        assert_eq!(clean_text("\u{202E}IVE\u{202C}"), "IVE");
        assert_eq!(clean_text("\u{2067}아이브\u{2069}\u{200F}"), "아이브");
        // Zero-width characters inside a name, a BOM in front, a soft hyphen.
        assert_eq!(clean_text("\u{FEFF}I\u{200B}V\u{200C}E\u{00AD}"), "IVE");
        // Control characters vanish; line breaks and tabs become one space.
        assert_eq!(clean_text("New\u{7}Jeans\u{1b}[31m"), "NewJeans[31m");
        assert_eq!(clean_text("  oh\r\n\tmy\u{2028}girl \n"), "oh my girl");
        assert_eq!(clean_text("\u{85}\u{9b}x"), "x");
        // The Hangul fillers KakaoTalk users paste as "blank" text.
        assert_eq!(clean_text("IVE\u{3164}"), "IVE");
        assert_eq!(clean_text("\u{FFA0}아이\u{115F}\u{1160}브"), "아이브");
        // Nothing left: blank.
        assert_eq!(clean_text("\u{200B}\u{202E}\u{0}\n"), "");
        assert_eq!(clean_text("\u{3164}\u{3164}"), "");
        // Ordinary text is untouched.
        assert_eq!(clean_text("Beyoncé & 아이유 (IU)"), "Beyoncé & 아이유 (IU)");
    }

    #[test]
    fn clean_text_keeps_the_joiner_inside_emoji_only() {
        assert_eq!(clean_text("👩\u{200D}🎤"), "👩\u{200D}🎤");
        assert_eq!(clean_text("👍🏽\u{200D}🔥"), "👍🏽\u{200D}🔥");
        assert_eq!(clean_text("a\u{200D}b"), "ab");
        assert_eq!(clean_text("\u{200D}🎤"), "🎤");
    }

    #[test]
    fn sentences_are_not_names() {
        assert!(could_be_a_name("오마이걸", 20, 2));
        assert!(could_be_a_name("Florence + the Machine", 40, 6));
        assert!(!could_be_a_name("노래 추천해줘?", 40, 6));
        assert!(!could_be_a_name(
            "요즘 들을 만한 노래 좀 알려 주세요",
            40,
            6
        ));
        assert!(!could_be_a_name("   ", 40, 6));
    }

    #[test]
    fn spotify_links_uris_and_ids_are_recognized() {
        let id = "6RHTUrRF63xao58xh9FXYJ";
        for input in [
            id.to_owned(),
            format!("spotify:artist:{id}"),
            format!("https://open.spotify.com/artist/{id}"),
            format!("https://open.spotify.com/intl-ko/artist/{id}?si=abc123"),
        ] {
            assert_eq!(
                parse_artist_ref(&input),
                Some(ArtistRef::SpotifyId(id.into())),
                "{input}"
            );
        }
        assert_eq!(
            parse_artist_ref(" OH MY GIRL "),
            Some(ArtistRef::Name("OH MY GIRL".into()))
        );
        assert_eq!(parse_artist_ref(""), None);
    }

    #[test]
    fn deezer_links_and_ids_are_recognized_and_bare_numbers_are_names() {
        for input in [
            "https://www.deezer.com/artist/1188",
            "https://www.deezer.com/ko/artist/1188?utm_source=deezer",
            "http://deezer.com/artist/1188",
            "deezer:artist:1188",
            "deezer:1188",
        ] {
            assert_eq!(
                parse_artist_ref(input),
                Some(ArtistRef::DeezerId(1188)),
                "{input}"
            );
        }
        assert_eq!(
            parse_artist_ref("1975"),
            Some(ArtistRef::Name("1975".into()))
        );
        assert_eq!(
            parse_artist_ref("deezer:abc"),
            Some(ArtistRef::Name("deezer:abc".into()))
        );
    }
}
