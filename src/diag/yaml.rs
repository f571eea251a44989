//! A YAML document as a tree whose every key and value carries its line and column.
//!
//! serde-saphyr parses; we keep positions ([`serde_saphyr::Spanned`]) on every node so that the
//! loader can point at the exact place of a semantic error (unknown kind, wrong type), not only
//! at syntax errors.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A position in the source, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1 (0 = unknown, e.g. a `--set` value).
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// A YAML value with positions on its children.
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Key, Node)>),
}

/// A value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Yaml,
    /// Where it starts.
    pub pos: Pos,
}

/// A mapping key and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where it starts.
    pub pos: Pos,
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos { line: s.referenced.line() as usize, col: s.referenced.column() as usize }
}

impl From<Spanned<Yaml>> for Node {
    fn from(s: Spanned<Yaml>) -> Self {
        let pos = pos_of(&s);
        Node { value: s.value, pos }
    }
}

impl Yaml {
    /// A short name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Yaml::Null => "null",
            Yaml::Bool(_) => "a boolean",
            Yaml::Int(_) => "an integer",
            Yaml::Float(_) => "a number",
            Yaml::Str(_) => "a string",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON (positions are dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Yaml::Null => Value::Null,
            Yaml::Bool(b) => Value::Bool(*b),
            Yaml::Int(i) => Value::from(*i),
            // JSON has no NaN or infinity: they stay text, which number params refuse by name.
            Yaml::Float(f) => {
                serde_json::Number::from_f64(*f).map_or_else(|| Value::String(f.to_string()), Value::Number)
            }
            Yaml::Str(s) => Value::String(s.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(|n| n.value.to_json()).collect()),
            Yaml::Map(entries) => {
                Value::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.value.to_json())).collect())
            }
        }
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Yaml, E> {
        i64::try_from(v).map(Yaml::Int).map_err(|_| E::custom(format!("integer {v} is too large")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Yaml>>()? {
            items.push(Node::from(item));
        }
        Ok(Yaml::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let key = Key { pos: pos_of(&key), name: key.value };
            if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == key.name) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` (first at line {}); each key may appear once",
                    key.name, first.pos.line
                )));
            }
            let value: Spanned<Yaml> = map.next_value()?;
            entries.push((key, Node::from(value)));
        }
        Ok(Yaml::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Yaml, D::Error> {
        d.deserialize_any(YamlVisitor)
    }
}

/// Parses YAML text into a positioned tree. The error text comes from serde-saphyr and already
/// names the line and column.
pub fn parse(text: &str) -> Result<Node, String> {
    parse_at(text).map_err(|(m, _)| m)
}

/// The most events that aliases (`*name`) may replay in one workflow: far more than shared
/// parameter blocks need, and it refuses an alias bomb ("billion laughs") in milliseconds.
const MAX_REPLAYED_EVENTS: usize = 100_000;

/// Like [`parse`], but the error is a plain message and its position.
pub fn parse_at(text: &str) -> Result<Node, (String, Pos)> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    serde_saphyr::from_str_with_options::<Spanned<Yaml>>(text, options).map(Node::from).map_err(|e| {
        let pos = e.location().map(|l| Pos { line: l.line() as usize, col: l.column() as usize }).unwrap_or_default();
        let mut msg = e.without_snippet().to_string();
        if let Some(rest) = msg.strip_prefix("error: ") {
            msg = rest.to_string();
        }
        if let Some(i) = msg.find(": ").filter(|_| msg.starts_with("line ")) {
            msg = msg[i + 2..].to_string();
        }
        let msg = if let Some(k) = msg.strip_prefix("duplicate mapping key: ") {
            let k = k.split(',').next().unwrap_or(k);
            format!("duplicate key `{k}`; each key (and node id) may appear once")
        } else if msg.starts_with("multiple YAML documents") {
            "a workflow is one YAML document; found a second one (`---`)".to_string()
        } else if msg.starts_with("alias replay") {
            format!(
                "aliases (`*name`) expand to too much: a workflow may replay at most {MAX_REPLAYED_EVENTS} YAML \
                 nodes through aliases ({msg})"
            )
        } else {
            msg.replace(" rejected by the configured policy", " is not allowed")
        };
        (msg, pos)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_keys_and_values() {
        let n = parse("a: 1\nb:\n  c: [x, 2.5]\n").unwrap();
        let Yaml::Map(entries) = n.value else { panic!() };
        assert_eq!(entries[1].0.name, "b");
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        let Yaml::Map(inner) = &entries[1].1.value else { panic!() };
        assert_eq!(inner[0].0.pos, Pos { line: 3, col: 3 });
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.contains("duplicate"), "{e}");
    }
}
