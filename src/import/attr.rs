//! DynamoDB typed values (`{"S": "..."}`, `{"N": "..."}`, ...) and DynamoDB numbers.
//!
//! Owns [`AttrValue`], [`Item`], the per-item errors, and exact number conversion. serde_json
//! reads each item into a plain JSON tree ([`Json`]); this module checks the DynamoDB layer
//! on top (one known type tag per value, the payload's JSON type, number syntax, no
//! attribute twice) and names the path of the first problem, so a malformed item is
//! reported and reading goes on with the next. Must not touch: files, whole exports,
//! catalog records, any database.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One DynamoDB attribute value, as typed in the export.
///
/// Numbers stay strings (`N("1.5e3")`): DynamoDB numbers have 38 digits of precision, and
/// [`super::to_record`] converts the ones it needs exactly. Binary values (`B`, `BS`) stay
/// the base64 text of the export: nothing here needs their bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    S(String),
    /// Already checked to be number syntax.
    N(String),
    Bool(bool),
    Null,
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    Ss(Vec<String>),
    /// Each checked to be number syntax.
    Ns(Vec<String>),
    B(String),
    Bs(Vec<String>),
}

impl AttrValue {
    /// DynamoDB's type tag for this value, as written in exports (`"S"`, `"BOOL"`, ...).
    pub(crate) fn type_tag(&self) -> &'static str {
        match self {
            AttrValue::S(_) => "S",
            AttrValue::N(_) => "N",
            AttrValue::Bool(_) => "BOOL",
            AttrValue::Null => "NULL",
            AttrValue::L(_) => "L",
            AttrValue::M(_) => "M",
            AttrValue::Ss(_) => "SS",
            AttrValue::Ns(_) => "NS",
            AttrValue::B(_) => "B",
            AttrValue::Bs(_) => "BS",
        }
    }
}

/// One DynamoDB item: attribute name to value, in name order.
pub type Item = BTreeMap<String, AttrValue>;

/// What is wrong with one typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttrProblem {
    /// Not a `{"TAG": value}` object (e.g. a bare string).
    #[error("expected a typed value such as {{\"S\": \"...\"}}, found {found}")]
    NotTyped { found: &'static str },
    /// `{}`: no type tag at all.
    #[error("the typed value has no type tag")]
    NoTag,
    /// `{"S": "a", "N": "1"}`: a value has exactly one type.
    #[error("the typed value has more than one type tag")]
    SeveralTags,
    /// A tag DynamoDB does not have.
    #[error("unknown type tag `{0}`")]
    UnknownTag(String),
    /// The tag's payload has the wrong JSON type (e.g. `{"N": 5}`, `{"L": "x"}`).
    #[error("a {tag} value must be {expected}, found {found}")]
    WrongJsonType {
        tag: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// An `N` or `NS` element that is not number syntax (e.g. `{"N": "abc"}`).
    #[error("{0:?} is not a DynamoDB number")]
    InvalidNumber(String),
    /// `{"NULL": false}`: DynamoDB only writes `true` here.
    #[error("a NULL value must be true")]
    NullNotTrue,
    /// The same attribute name twice in one item or map.
    #[error("the attribute appears twice")]
    Duplicate,
}

/// Why one item (one element of `Items`, or one JSON line) could not be read. The file
/// reader reports it with the item's place and goes on with the next item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// A JSON-lines line that is not valid JSON; the line number is in the item's place.
    #[error("invalid JSON at column {column}: {message}")]
    Syntax { column: usize, message: String },
    /// A JSON-lines line longer than the reader accepts (a DynamoDB item is at most 400 KB).
    #[error("the line is longer than {limit} bytes")]
    LineTooLong { limit: usize },
    /// Valid JSON, but not an object of attributes.
    #[error("an item must be an object of attributes, found {found}")]
    NotAnObject { found: &'static str },
    /// A JSON-lines object without the `Item` key of DynamoDB's export format.
    #[error("the line has no \"Item\" key")]
    MissingItemKey,
    /// One attribute value is malformed; `path` names it (`genres[2]`, `album.images[0].url`).
    #[error("attribute `{path}`: {problem}")]
    Attribute { path: String, problem: AttrProblem },
}

impl ItemError {
    /// A JSON text's syntax error; the line is left to the item's place.
    pub(crate) fn syntax(error: &serde_json::Error) -> Self {
        let (column, message) = (error.column(), json_message(error));
        ItemError::Syntax { column, message }
    }
}

/// serde_json's message without its " at line L column C" suffix (places say where).
pub(crate) fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// Parses one item written as DynamoDB JSON (`{"id": {"S": "..."}, ...}`), e.g. an item an
/// operator pasted, or a test fixture.
pub fn parse_item(json: &str) -> Result<Item, ItemError> {
    let json = serde_json::from_str(json).map_err(|e| ItemError::syntax(&e))?;
    item_from_json(json)
}

/// A JSON value as read: what the DynamoDB layer is checked on. Lighter than
/// `serde_json::Value`, whose objects are maps, because an export holds millions of typed
/// values (one-entry objects) and reading them is most of an import's work: `{"S": "..."}`
/// costs no allocation beyond its text, and type tags as keys are not copied. Objects keep
/// repeated keys, so they can be reported.
#[derive(Debug)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
    /// A one-entry object whose value is a string.
    Tagged(Key, String),
}

/// An object key; DynamoDB's type tags are not copied.
pub(crate) type Key = Cow<'static, str>;

impl Json {
    /// What kind of JSON this is, for messages: "a string", "an array", ...
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) | Json::Tagged(..) => "an object",
        }
    }

    /// An object's entries; anything else is given back.
    pub(crate) fn into_entries(self) -> Result<Vec<(Key, Json)>, Json> {
        match self {
            Json::Object(entries) => Ok(entries),
            Json::Tagged(key, text) => Ok(vec![(key, Json::String(text))]),
            other => Err(other),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut values = Vec::new();
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Json::Array(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut next = || map.next_entry_seed(KeySeed, PhantomData::<Json>);
        let Some(first) = next()? else {
            return Ok(Json::Object(Vec::new()));
        };
        let Some(second) = next()? else {
            return Ok(match first {
                (key, Json::String(text)) => Json::Tagged(key, text),
                entry => Json::Object(vec![entry]),
            });
        };
        let mut entries = vec![first, second];
        while let Some(entry) = next()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}

/// Reads an object key as a [`Key`].
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(match TAGS.iter().find(|(tag, _)| *tag == key) {
            Some((tag, _)) => Cow::Borrowed(tag),
            None => Cow::Owned(key.to_owned()),
        })
    }
}

/// Checks one item read as JSON (an element of `Items`, a line's `Item`) as DynamoDB JSON.
pub(crate) fn item_from_json(json: Json) -> Result<Item, ItemError> {
    let attributes = json
        .into_entries()
        .map_err(|other| ItemError::NotAnObject {
            found: other.kind(),
        })?;
    typed_map(attributes)
        .map_err(|AttrError { path, problem }| ItemError::Attribute { path, problem })
}

/// A problem on its way up: the path grows as it leaves each nesting level.
struct AttrError {
    path: String,
    problem: AttrProblem,
}

impl AttrError {
    /// The error seen from one level up: `segment` is an attribute name or `[index]`.
    fn under(mut self, segment: impl fmt::Display) -> Self {
        let dot = match self.path.starts_with('[') || self.path.is_empty() {
            true => "",
            false => ".",
        };
        self.path = format!("{segment}{dot}{}", self.path);
        self
    }
}

impl From<AttrProblem> for AttrError {
    fn from(problem: AttrProblem) -> Self {
        let path = String::new();
        AttrError { path, problem }
    }
}

/// DynamoDB's type tags and the JSON each one's payload must be.
const TAGS: [(&str, &str); 10] = [
    ("S", "a string"),
    ("N", "a string"),
    ("B", "a base64 string"),
    ("BOOL", "a boolean"),
    ("NULL", "true"),
    ("L", "an array"),
    ("M", "an object"),
    ("SS", "an array of strings"),
    ("NS", "an array of strings"),
    ("BS", "an array of strings"),
];

/// An item or an `M` payload; the first problem in document order is the one reported.
fn typed_map(entries: Vec<(Key, Json)>) -> Result<BTreeMap<String, AttrValue>, AttrError> {
    let mut map = BTreeMap::new();
    for (name, json) in entries {
        let value = typed(json).map_err(|e| e.under(&name))?;
        match map.entry(name.into_owned()) {
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
            Entry::Occupied(slot) => {
                let (path, problem) = (slot.key().clone(), AttrProblem::Duplicate);
                return Err(AttrError { path, problem });
            }
        }
    }
    Ok(map)
}

/// One typed value: `{"TAG": payload}`. A problem with the first tag's payload is reported
/// before a second tag.
fn typed(json: Json) -> Result<AttrValue, AttrError> {
    let ((tag, payload), several) = match json {
        Json::Tagged(tag, text) => ((tag, Json::String(text)), false),
        Json::Object(entries) => {
            let several = entries.len() > 1;
            match entries.into_iter().next() {
                Some(first) => (first, several),
                None => return Err(AttrProblem::NoTag.into()),
            }
        }
        other => {
            let found = other.kind();
            return Err(AttrProblem::NotTyped { found }.into());
        }
    };
    let Some(&(tag, expected)) = TAGS.iter().find(|(known, _)| *known == tag) else {
        return Err(AttrProblem::UnknownTag(tag.into_owned()).into());
    };
    let value = match (tag, payload) {
        ("S", Json::String(s)) => AttrValue::S(s),
        ("N", Json::String(s)) if is_number(&s) => AttrValue::N(s),
        ("N", Json::String(s)) => return Err(AttrProblem::InvalidNumber(s).into()),
        ("B", Json::String(s)) => AttrValue::B(s),
        ("BOOL", Json::Bool(b)) => AttrValue::Bool(b),
        ("NULL", Json::Bool(true)) => AttrValue::Null,
        ("NULL", Json::Bool(false)) => return Err(AttrProblem::NullNotTrue.into()),
        ("L", Json::Array(values)) => AttrValue::L(
            values
                .into_iter()
                .enumerate()
                .map(|(index, v)| typed(v).map_err(|e| e.under(format_args!("[{index}]"))))
                .collect::<Result<_, _>>()?,
        ),
        ("M", Json::Object(entries)) => AttrValue::M(typed_map(entries)?),
        ("M", Json::Tagged(key, text)) => AttrValue::M(typed_map(vec![(key, Json::String(text))])?),
        ("SS", Json::Array(values)) => AttrValue::Ss(strings(tag, values)?),
        ("NS", Json::Array(values)) => AttrValue::Ns(strings(tag, values)?),
        ("BS", Json::Array(values)) => AttrValue::Bs(strings(tag, values)?),
        (tag, payload) => {
            let found = payload.kind();
            return Err(AttrProblem::WrongJsonType {
                tag,
                expected,
                found,
            }
            .into());
        }
    };
    match several {
        true => Err(AttrProblem::SeveralTags.into()),
        false => Ok(value),
    }
}

/// The payload of `SS`, `NS` or `BS`: an array of strings (numbers checked for `NS`).
fn strings(tag: &'static str, values: Vec<Json>) -> Result<Vec<String>, AttrError> {
    let check = |(index, json): (usize, Json)| {
        let problem = match json {
            Json::String(s) if tag != "NS" || is_number(&s) => return Ok(s),
            Json::String(s) => AttrProblem::InvalidNumber(s),
            other => AttrProblem::WrongJsonType {
                tag,
                expected: "an array of strings",
                found: other.kind(),
            },
        };
        Err(AttrError::from(problem).under(format_args!("[{index}]")))
    };
    values.into_iter().enumerate().map(check).collect()
}

/// Why a number string could not become the integer that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntegerError {
    /// Not DynamoDB number syntax (`"abc"`, `""`, `"1e"`).
    NotANumber,
    /// A number with a non-zero fractional part (`"12.5"`).
    NotAnInteger,
    /// An integer too large for `i64`.
    OutOfRange,
}

/// DynamoDB number syntax: an optional sign, digits with an optional fraction (at least one
/// digit in all), an optional exponent. Checked by hand because the parsers behind it accept
/// more: Rust's floats take "inf" and "NaN", bigdecimal takes `_` between digits.
pub(crate) fn is_number(text: &str) -> bool {
    fn unsigned(s: &str) -> &str {
        s.strip_prefix(['+', '-']).unwrap_or(s)
    }
    fn digits(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_digit())
    }
    let (mantissa, exponent) = match unsigned(text).split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(unsigned(exponent))),
        None => (unsigned(text), None),
    };
    let (int, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    digits(int)
        && digits(fraction)
        && !(int.is_empty() && fraction.is_empty())
        && exponent.is_none_or(|e| !e.is_empty() && digits(e))
}

/// Reads `text` as an exact integer: `"1500"`, `"1.5e3"` and `"1500.0"` are all 1500, and
/// nothing is rounded. bigdecimal keeps every digit (DynamoDB has 38; rust_decimal 28); the
/// digit count is checked before any conversion, which would expand `1e999999999` in full.
pub(crate) fn parse_integer(text: &str) -> Result<i64, IntegerError> {
    // Short plain integers, nearly every number of an export, need no decimal arithmetic.
    if text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| IntegerError::NotANumber);
    }
    if !is_number(text) {
        return Err(IntegerError::NotANumber);
    }
    // Only an exponent beyond i64 fails to parse here: far out of range either way.
    let exact = BigDecimal::from_str(text)
        .map_err(|_| IntegerError::OutOfRange)?
        .normalized();
    let (_, scale) = exact.as_bigint_and_scale();
    if scale > 0 {
        return Err(IntegerError::NotAnInteger);
    }
    // i64::MAX has 19 digits; `scale` is minus the trailing zeros normalization took off.
    if i128::from(exact.digits()) - i128::from(scale) > 19 {
        return Err(IntegerError::OutOfRange);
    }
    exact.to_i64().ok_or(IntegerError::OutOfRange)
}

/// Reads `text` as a finite float; `None` when it is not a number or overflows `f64`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    if !is_number(text) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}
