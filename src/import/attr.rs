//! DynamoDB typed attribute values (`{"S": "..."}`, `{"N": "..."}`, ...) and the streaming
//! serde visitors that build them.
//!
//! Owns: [`AttrValue`], [`Item`], the per-item error types, and the visitors the file readers
//! drive. The visitors separate two kinds of failure on purpose: malformed JSON is a serde
//! error (the caller cannot go on inside that document), while well-formed JSON that is not
//! a valid DynamoDB value (an unknown type tag, an `N` that is a JSON number, ...) is consumed
//! completely and returned as a value-level error, so reading continues with the next item.
//! Must not touch: files, formats of whole exports, catalog records, any database.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::number;

/// One DynamoDB attribute value, as typed in the export.
///
/// Numbers stay strings (`N("1.5e3")`) because DynamoDB numbers have 38 digits of precision;
/// [`super::to_record`] converts the ones it needs exactly. Binary values (`B`, `BS`) stay
/// the base64 text of the export: nothing here needs their bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// `{"S": "text"}`
    S(String),
    /// `{"N": "123.4"}`, already checked to be number syntax.
    N(String),
    /// `{"BOOL": true}`
    Bool(bool),
    /// `{"NULL": true}`
    Null,
    /// `{"L": [...]}`
    L(Vec<AttrValue>),
    /// `{"M": {...}}`
    M(BTreeMap<String, AttrValue>),
    /// `{"SS": ["a", "b"]}`
    Ss(Vec<String>),
    /// `{"NS": ["1", "2"]}`, each checked to be number syntax.
    Ns(Vec<String>),
    /// `{"B": "base64"}`, kept as the base64 text.
    B(String),
    /// `{"BS": ["base64", ...]}`, kept as the base64 texts.
    Bs(Vec<String>),
}

impl AttrValue {
    /// DynamoDB's type tag for this value, as written in exports (`"S"`, `"BOOL"`, ...).
    pub fn type_tag(&self) -> &'static str {
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

/// The kind of a JSON value found where something else was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// A JSON array.
    Array,
    /// A JSON object.
    Object,
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::String => "a string",
            JsonKind::Number => "a number",
            JsonKind::Boolean => "a boolean",
            JsonKind::Null => "null",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        })
    }
}

/// What is wrong with one typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttrProblem {
    /// The value is not a `{"TAG": value}` object (e.g. a bare string).
    #[error("expected a typed value such as {{\"S\": \"...\"}}, found {found}")]
    NotTyped {
        /// What was found instead.
        found: JsonKind,
    },
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
        /// The DynamoDB type tag.
        tag: &'static str,
        /// What that tag requires.
        expected: &'static str,
        /// What was found instead.
        found: JsonKind,
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

/// Why one item (one element of `Items`, or one JSON line) could not be read.
/// The file reader reports it with the item's place and goes on with the next item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// A JSON-lines line that is not valid JSON; the line number is in the item's place.
    #[error("invalid JSON at column {column}: {message}")]
    Syntax {
        /// 1-based column (byte offset in the line) where the parser stopped.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A JSON-lines line longer than the reader accepts (a DynamoDB item is at most 400 KB).
    #[error("the line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The item is valid JSON but not an object of attributes.
    #[error("an item must be an object of attributes, found {found}")]
    NotAnObject {
        /// What was found instead.
        found: JsonKind,
    },
    /// A JSON-lines object without the `Item` key of DynamoDB's export format.
    #[error("the line has no \"Item\" key")]
    MissingItemKey,
    /// One attribute value is malformed; `path` names it (`genres[2]`, `album.images[0].url`).
    #[error("attribute `{path}`: {problem}")]
    Attribute {
        /// Where the value is inside the item.
        path: String,
        /// What is wrong with it.
        problem: AttrProblem,
    },
}

/// A value-level error on its way up: the path grows as it leaves each nesting level.
#[derive(Debug)]
struct AttrError {
    path: String,
    problem: AttrProblem,
}

impl AttrError {
    fn here(problem: AttrProblem) -> Self {
        AttrError {
            path: String::new(),
            problem,
        }
    }

    fn under_key(mut self, key: &str) -> Self {
        self.path = if self.path.is_empty() {
            key.to_owned()
        } else if self.path.starts_with('[') {
            format!("{key}{}", self.path)
        } else {
            format!("{key}.{}", self.path)
        };
        self
    }

    fn under_index(mut self, index: usize) -> Self {
        self.path = if self.path.is_empty() || self.path.starts_with('[') {
            format!("[{index}]{}", self.path)
        } else {
            format!("[{index}].{}", self.path)
        };
        self
    }
}

/// What one of the lenient visitors below does with each JSON kind. Every kind it does not
/// expect is consumed in full and turned into an error value by `wrong`, so the JSON stream
/// stays in step whatever the input holds.
pub(crate) trait Shape<'de>: Sized {
    type Out;

    fn expecting(&self) -> &'static str;

    fn wrong(self, found: JsonKind) -> Self::Out;

    fn string(self, _value: &str) -> Self::Out {
        self.wrong(JsonKind::String)
    }

    /// Same as `string` but may keep the allocation; the default copies.
    fn owned_string(self, value: String) -> Self::Out {
        self.string(&value)
    }

    fn boolean(self, _value: bool) -> Self::Out {
        self.wrong(JsonKind::Boolean)
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.wrong(JsonKind::Array))
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.wrong(JsonKind::Object))
    }
}

/// Adapts a [`Shape`] to serde: the seed asks for `deserialize_any`, the visitor dispatches.
pub(crate) struct Lenient<S>(pub(crate) S);

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Lenient<S> {
    type Value = S::Out;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Out, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Shape<'de>> Visitor<'de> for Lenient<S> {
    type Value = S::Out;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expecting())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Out, E> {
        Ok(self.0.boolean(v))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<S::Out, E> {
        Ok(self.0.wrong(JsonKind::Number))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<S::Out, E> {
        Ok(self.0.wrong(JsonKind::Number))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<S::Out, E> {
        Ok(self.0.wrong(JsonKind::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Out, E> {
        Ok(self.0.string(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<S::Out, E> {
        Ok(self.0.owned_string(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.wrong(JsonKind::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Out, E> {
        Ok(self.0.wrong(JsonKind::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Out, A::Error> {
        self.0.array(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Out, A::Error> {
        self.0.object(map)
    }
}

/// A JSON string, or the kind found instead.
struct StringShape;

impl<'de> Shape<'de> for StringShape {
    type Out = Result<String, JsonKind>;

    fn expecting(&self) -> &'static str {
        "a string"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(found)
    }

    fn string(self, value: &str) -> Self::Out {
        Ok(value.to_owned())
    }

    fn owned_string(self, value: String) -> Self::Out {
        Ok(value)
    }
}

/// A JSON boolean, or the kind found instead.
struct BoolShape;

impl<'de> Shape<'de> for BoolShape {
    type Out = Result<bool, JsonKind>;

    fn expecting(&self) -> &'static str {
        "a boolean"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(found)
    }

    fn boolean(self, value: bool) -> Self::Out {
        Ok(value)
    }
}

/// The payload of `SS`, `NS` or `BS`: an array of strings (numbers checked for `NS`).
struct StringSetShape {
    tag: &'static str,
    numbers: bool,
}

impl<'de> Shape<'de> for StringSetShape {
    type Out = Result<Vec<String>, AttrError>;

    fn expecting(&self) -> &'static str {
        "an array of strings"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(AttrError::here(AttrProblem::WrongJsonType {
            tag: self.tag,
            expected: "an array of strings",
            found,
        }))
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        let mut first_error = None;
        let mut index = 0;
        while let Some(element) = seq.next_element_seed(Lenient(StringShape))? {
            let checked = match element {
                Ok(s) if self.numbers && !number::is_number(&s) => {
                    Err(AttrError::here(AttrProblem::InvalidNumber(s)))
                }
                Ok(s) => Ok(s),
                Err(found) => Err(AttrError::here(AttrProblem::WrongJsonType {
                    tag: self.tag,
                    expected: "an array of strings",
                    found,
                })),
            };
            match checked {
                Ok(s) => out.push(s),
                Err(e) => {
                    first_error.get_or_insert(e.under_index(index));
                }
            }
            index += 1;
        }
        Ok(match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        })
    }
}

/// The type tags of DynamoDB JSON, read as map keys without allocating for known tags.
enum Tag {
    S,
    N,
    B,
    Bool,
    Null,
    L,
    M,
    Ss,
    Ns,
    Bs,
    Unknown(String),
}

impl<'de> de::Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tag, D::Error> {
        struct TagVisitor;

        impl Visitor<'_> for TagVisitor {
            type Value = Tag;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DynamoDB type tag")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tag, E> {
                Ok(match v {
                    "S" => Tag::S,
                    "N" => Tag::N,
                    "B" => Tag::B,
                    "BOOL" => Tag::Bool,
                    "NULL" => Tag::Null,
                    "L" => Tag::L,
                    "M" => Tag::M,
                    "SS" => Tag::Ss,
                    "NS" => Tag::Ns,
                    "BS" => Tag::Bs,
                    other => Tag::Unknown(other.to_owned()),
                })
            }
        }

        deserializer.deserialize_str(TagVisitor)
    }
}

/// One typed value: `{"TAG": payload}`.
struct ValueShape;

impl<'de> Shape<'de> for ValueShape {
    type Out = Result<AttrValue, AttrError>;

    fn expecting(&self) -> &'static str {
        "a DynamoDB typed value"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(AttrError::here(AttrProblem::NotTyped { found }))
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Ok(Err(AttrError::here(AttrProblem::NoTag)));
        };
        let wrong_type = |tag: &'static str, expected: &'static str| {
            move |found| {
                AttrError::here(AttrProblem::WrongJsonType {
                    tag,
                    expected,
                    found,
                })
            }
        };
        let mut value = match tag {
            Tag::S => map
                .next_value_seed(Lenient(StringShape))?
                .map(AttrValue::S)
                .map_err(wrong_type("S", "a string")),
            Tag::N => match map.next_value_seed(Lenient(StringShape))? {
                Ok(s) if number::is_number(&s) => Ok(AttrValue::N(s)),
                Ok(s) => Err(AttrError::here(AttrProblem::InvalidNumber(s))),
                Err(found) => Err(wrong_type("N", "a string")(found)),
            },
            Tag::B => map
                .next_value_seed(Lenient(StringShape))?
                .map(AttrValue::B)
                .map_err(wrong_type("B", "a base64 string")),
            Tag::Bool => map
                .next_value_seed(Lenient(BoolShape))?
                .map(AttrValue::Bool)
                .map_err(wrong_type("BOOL", "a boolean")),
            Tag::Null => match map.next_value_seed(Lenient(BoolShape))? {
                Ok(true) => Ok(AttrValue::Null),
                Ok(false) => Err(AttrError::here(AttrProblem::NullNotTrue)),
                Err(found) => Err(wrong_type("NULL", "true")(found)),
            },
            Tag::L => map.next_value_seed(Lenient(ListShape))?.map(AttrValue::L),
            Tag::M => map
                .next_value_seed(Lenient(MapShape { tag: "M" }))?
                .map(AttrValue::M),
            Tag::Ss => map
                .next_value_seed(Lenient(StringSetShape {
                    tag: "SS",
                    numbers: false,
                }))?
                .map(AttrValue::Ss),
            Tag::Ns => map
                .next_value_seed(Lenient(StringSetShape {
                    tag: "NS",
                    numbers: true,
                }))?
                .map(AttrValue::Ns),
            Tag::Bs => map
                .next_value_seed(Lenient(StringSetShape {
                    tag: "BS",
                    numbers: false,
                }))?
                .map(AttrValue::Bs),
            Tag::Unknown(name) => {
                map.next_value::<IgnoredAny>()?;
                Err(AttrError::here(AttrProblem::UnknownTag(name)))
            }
        };
        // A second tag makes the value ambiguous; it is still consumed to keep the stream
        // in step. The first problem found is the one reported.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            if value.is_ok() {
                value = Err(AttrError::here(AttrProblem::SeveralTags));
            }
        }
        Ok(value)
    }
}

/// The payload of `L`: an array of typed values.
struct ListShape;

impl<'de> Shape<'de> for ListShape {
    type Out = Result<Vec<AttrValue>, AttrError>;

    fn expecting(&self) -> &'static str {
        "an array of typed values"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(AttrError::here(AttrProblem::WrongJsonType {
            tag: "L",
            expected: "an array",
            found,
        }))
    }

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        let mut first_error = None;
        let mut index = 0;
        while let Some(element) = seq.next_element_seed(Lenient(ValueShape))? {
            match element {
                Ok(v) if first_error.is_none() => out.push(v),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e.under_index(index));
                }
            }
            index += 1;
        }
        Ok(match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        })
    }
}

/// An object of named typed values: the payload of `M`, and an item itself.
struct MapShape {
    tag: &'static str,
}

impl<'de> Shape<'de> for MapShape {
    type Out = Result<BTreeMap<String, AttrValue>, AttrError>;

    fn expecting(&self) -> &'static str {
        "an object of typed values"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(AttrError::here(AttrProblem::WrongJsonType {
            tag: self.tag,
            expected: "an object",
            found,
        }))
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut out = BTreeMap::new();
        let mut first_error = None;
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(Lenient(ValueShape))?;
            if first_error.is_some() {
                continue;
            }
            match value {
                Ok(v) => match out.entry(name) {
                    Entry::Vacant(slot) => {
                        slot.insert(v);
                    }
                    Entry::Occupied(slot) => {
                        first_error = Some(AttrError {
                            path: slot.key().clone(),
                            problem: AttrProblem::Duplicate,
                        });
                    }
                },
                Err(e) => first_error = Some(e.under_key(&name)),
            }
        }
        Ok(match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        })
    }
}

/// One item: an object of attributes. Used for each element of a scan page's `Items`.
pub(crate) struct ItemShape;

impl<'de> Shape<'de> for ItemShape {
    type Out = Result<Item, ItemError>;

    fn expecting(&self) -> &'static str {
        "a DynamoDB item"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(ItemError::NotAnObject { found })
    }

    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        Ok(MapShape { tag: "M" }
            .object(map)?
            .map_err(|e| ItemError::Attribute {
                path: e.path,
                problem: e.problem,
            }))
    }
}

/// One line of a DynamoDB "export to S3" file: `{"Item": {...}}`. Other keys are skipped so
/// a future export format that adds metadata beside `Item` still reads.
pub(crate) struct ExportLineShape;

impl<'de> Shape<'de> for ExportLineShape {
    type Out = Result<Item, ItemError>;

    fn expecting(&self) -> &'static str {
        "an {\"Item\": ...} object"
    }

    fn wrong(self, found: JsonKind) -> Self::Out {
        Err(ItemError::NotAnObject { found })
    }

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        let mut item = None;
        while let Some(key) = map.next_key_seed(KeyOneOf(&["Item"]))? {
            if key.is_some() && item.is_none() {
                item = Some(map.next_value_seed(Lenient(ItemShape))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(item.unwrap_or(Err(ItemError::MissingItemKey)))
    }
}

/// Reads an object key and tells which of the given names it is (its index), without
/// allocating the key.
pub(crate) struct KeyOneOf(pub(crate) &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for KeyOneOf {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyOneOf {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == v))
    }
}

/// Parses one item written as DynamoDB JSON (`{"id": {"S": "..."}, ...}`), e.g. an item an
/// operator pasted, or a test fixture. Invalid JSON is an [`ItemError::Syntax`], whose
/// column is counted on the line of the error (the line itself is not reported: the readers
/// give it through [`super::ItemPlace`]).
pub fn parse_item(json: &str) -> Result<Item, ItemError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let item = Lenient(ItemShape)
        .deserialize(&mut de)
        .and_then(|item| de.end().map(|()| item));
    match item {
        Ok(item) => item,
        Err(e) => Err(ItemError::from_json_error(&e)),
    }
}

impl ItemError {
    /// The syntax error of one JSON text, with serde_json's position suffix removed because
    /// the column is kept apart and the line is in the item's place.
    pub(crate) fn from_json_error(e: &serde_json::Error) -> ItemError {
        ItemError::Syntax {
            column: e.column(),
            message: json_message(e),
        }
    }
}

/// serde_json's message without its " at line L column C" suffix.
pub(crate) fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute_problem(json: &str) -> (String, AttrProblem) {
        match parse_item(json) {
            Err(ItemError::Attribute { path, problem }) => (path, problem),
            other => panic!("expected an attribute error for {json}, got {other:?}"),
        }
    }

    #[test]
    fn every_type_tag_reads() {
        let item = parse_item(
            r#"{"s":{"S":"아이유"},"n":{"N":"1.5e3"},"t":{"BOOL":true},"z":{"NULL":true},
                "l":{"L":[{"S":"a"},{"N":"1"}]},"m":{"M":{"k":{"S":"v"}}},
                "ss":{"SS":["a","b"]},"ns":{"NS":["1","2.5"]},"b":{"B":"AAE="},"bs":{"BS":["AA=="]}}"#,
        )
        .expect("valid item");
        assert_eq!(item["s"], AttrValue::S("아이유".into()));
        assert_eq!(item["n"], AttrValue::N("1.5e3".into()));
        assert_eq!(item["t"], AttrValue::Bool(true));
        assert_eq!(item["z"], AttrValue::Null);
        assert_eq!(
            item["l"],
            AttrValue::L(vec![AttrValue::S("a".into()), AttrValue::N("1".into())])
        );
        assert_eq!(
            item["m"],
            AttrValue::M(BTreeMap::from([("k".into(), AttrValue::S("v".into()))]))
        );
        assert_eq!(item["ss"], AttrValue::Ss(vec!["a".into(), "b".into()]));
        assert_eq!(item["ns"], AttrValue::Ns(vec!["1".into(), "2.5".into()]));
        assert_eq!(item["b"], AttrValue::B("AAE=".into()));
        assert_eq!(item["bs"], AttrValue::Bs(vec!["AA==".into()]));
    }

    #[test]
    fn nested_problems_are_named_by_path() {
        let (path, problem) =
            attribute_problem(r#"{"genres":{"L":[{"S":"k-pop"},{"X":"?"}]},"id":{"S":"a"}}"#);
        assert_eq!(path, "genres[1]");
        assert_eq!(problem, AttrProblem::UnknownTag("X".into()));

        let (path, problem) = attribute_problem(
            r#"{"album":{"M":{"images":{"L":[{"M":{"url":{"S":"u"},"height":{"N":300}}}]}}}}"#,
        );
        assert_eq!(path, "album.images[0].height");
        assert_eq!(
            problem,
            AttrProblem::WrongJsonType {
                tag: "N",
                expected: "a string",
                found: JsonKind::Number
            }
        );
    }

    #[test]
    fn malformed_values_are_reported_not_fatal() {
        let cases: [(&str, AttrProblem); 8] = [
            (
                r#"{"a":{"N":"abc"}}"#,
                AttrProblem::InvalidNumber("abc".into()),
            ),
            (
                r#"{"a":"plain"}"#,
                AttrProblem::NotTyped {
                    found: JsonKind::String,
                },
            ),
            (r#"{"a":{}}"#, AttrProblem::NoTag),
            (r#"{"a":{"S":"x","N":"1"}}"#, AttrProblem::SeveralTags),
            (r#"{"a":{"NULL":false}}"#, AttrProblem::NullNotTrue),
            (r#"{"a":{"S":"x"},"a":{"S":"y"}}"#, AttrProblem::Duplicate),
            (
                r#"{"a":{"L":{"S":"x"}}}"#,
                AttrProblem::WrongJsonType {
                    tag: "L",
                    expected: "an array",
                    found: JsonKind::Object,
                },
            ),
            (
                r#"{"a":{"SS":["x",[1,{"y":2}]]}}"#,
                AttrProblem::WrongJsonType {
                    tag: "SS",
                    expected: "an array of strings",
                    found: JsonKind::Array,
                },
            ),
        ];
        for (json, expected) in cases {
            let (_, problem) = attribute_problem(json);
            assert_eq!(problem, expected, "{json}");
        }
    }

    #[test]
    fn an_item_that_is_not_an_object_is_an_item_error() {
        assert_eq!(
            parse_item(r#"["not", "an", "item"]"#),
            Err(ItemError::NotAnObject {
                found: JsonKind::Array
            })
        );
    }

    #[test]
    fn invalid_json_is_a_syntax_error_not_an_item_error() {
        let error = parse_item(r#"{"a":{"S":"x"} "b":{"S":"y"}}"#).unwrap_err();
        assert!(
            matches!(error, ItemError::Syntax { column: 16, ref message } if message.contains("expected `,`")),
            "{error:?}"
        );
    }
}
