//! Parameter schemas and validated parameter sets.
//!
//! A node kind declares its parameters as [`ParamSpec`]s. The workflow loader checks every
//! value once against its [`ParamType`] and fills defaults, producing [`Params`]: nodes never
//! see raw YAML (house rule 6). Values are kept as canonical JSON so that a task's key does not
//! depend on how the user spelled a number (`1` and `1.0` are the same float).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::error::NodeError;

/// The most tasks or runs one count param may ask for ([`ParamType::tasks`]).
pub const MAX_TASKS: i64 = 1_000_000;

/// The most values of a range grid.
const MAX_GRID: usize = 10_000;

/// The type of one parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// `true` or `false`.
    Bool,
    /// A whole number within optional bounds (inclusive).
    Int {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A real number within optional bounds (inclusive); integers are accepted.
    Float {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// Any string.
    Str,
    /// One string out of a fixed set.
    Choice(&'static [&'static str]),
    /// A grid `{from, to, step}` of floats, both ends included.
    Range,
    /// A list of floats.
    FloatList,
    /// A list of strings.
    StrList,
    /// The inner type or `null`.
    Optional(Box<ParamType>),
}

impl ParamType {
    /// `inner` or `null`.
    pub fn optional(inner: ParamType) -> Self {
        ParamType::Optional(Box::new(inner))
    }

    /// A non-negative integer.
    pub const fn count() -> Self {
        ParamType::Int { min: Some(0), max: None }
    }

    /// A positive integer.
    pub const fn positive() -> Self {
        ParamType::Int { min: Some(1), max: None }
    }

    /// A number of tasks or runs, from 1 to [`MAX_TASKS`]: a larger one could never be planned.
    pub const fn tasks() -> Self {
        ParamType::Int { min: Some(1), max: Some(MAX_TASKS) }
    }

    /// A float in `[0, 1]`.
    pub const fn fraction() -> Self {
        ParamType::Float { min: Some(0.0), max: Some(1.0) }
    }

    /// A float `>= 0`.
    pub const fn non_negative() -> Self {
        ParamType::Float { min: Some(0.0), max: None }
    }

    /// Checks `value` and returns its canonical form, or a sentence saying what is wrong.
    pub fn check(&self, value: &Value) -> Result<Value, String> {
        match (self, value) {
            (ParamType::Optional(_), Value::Null) => Ok(Value::Null),
            (ParamType::Optional(inner), v) => inner.check(v),
            (ParamType::Bool, Value::Bool(_)) => Ok(value.clone()),
            (ParamType::Int { min, max }, Value::Number(n)) => {
                let Some(i) = n.as_i64() else {
                    return Err(format!("expected an integer, found {n}"));
                };
                check_bounds(i, *min, *max)?;
                Ok(Value::from(i))
            }
            (ParamType::Float { min, max }, Value::Number(n)) => {
                let x = n.as_f64().ok_or_else(|| format!("{n} is not a number"))?;
                check_bounds(x, *min, *max)?;
                Ok(float_value(x))
            }
            (ParamType::Int { .. } | ParamType::Float { .. }, Value::String(s)) if is_non_finite(s) => {
                Err(format!("expected a finite number, found {s}"))
            }
            (ParamType::Str, Value::String(_)) => Ok(value.clone()),
            (ParamType::Choice(options), Value::String(s)) => {
                if options.contains(&s.as_str()) {
                    Ok(value.clone())
                } else {
                    let hint = crate::diag::suggest::did_you_mean(s, options.iter().copied())
                        .map(|m| format!("; did you mean `{m}`?"))
                        .unwrap_or_default();
                    Err(format!("`{s}` is not one of {}{hint}", list(options)))
                }
            }
            (ParamType::Range, Value::Object(map)) => {
                let mut out = serde_json::Map::new();
                for key in ["from", "to", "step"] {
                    let v = map
                        .get(key)
                        .and_then(Value::as_f64)
                        .ok_or_else(|| format!("a range needs a number `{key}`"))?;
                    out.insert(key.into(), float_value(v));
                }
                if let Some(extra) = map.keys().find(|k| !["from", "to", "step"].contains(&k.as_str())) {
                    return Err(format!("unknown range key `{extra}` (a range has from, to, step)"));
                }
                let range = Range::from_value(&Value::Object(out.clone()))?;
                if range.step <= 0.0 || range.to < range.from {
                    return Err("a range needs step > 0 and to >= from".into());
                }
                let n = (range.to - range.from) / range.step;
                if n >= MAX_GRID as f64 {
                    return Err(format!("a range of {:.0} values; at most {MAX_GRID} (widen `step`)", n.floor() + 1.0));
                }
                Ok(Value::Object(out))
            }
            (ParamType::Range, Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                Ok(serde_json::json!({"from": float_value(x), "to": float_value(x), "step": 1.0}))
            }
            (ParamType::FloatList, Value::Array(items)) => items
                .iter()
                .map(|v| v.as_f64().map(float_value).ok_or_else(|| format!("expected a list of numbers, found {v}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            (ParamType::StrList, Value::Array(items)) => {
                if items.iter().all(Value::is_string) {
                    Ok(value.clone())
                } else {
                    Err("expected a list of strings".into())
                }
            }
            (ty, v) => Err(format!("expected {ty}, found {}", describe(v))),
        }
    }
}

fn check_bounds<T: PartialOrd + fmt::Display + Copy>(x: T, min: Option<T>, max: Option<T>) -> Result<(), String> {
    if let Some(m) = min
        && x < m
    {
        return Err(format!("{x} is below the minimum {m}"));
    }
    if let Some(m) = max
        && x > m
    {
        return Err(format!("{x} is above the maximum {m}"));
    }
    Ok(())
}

/// Whether `s` spells NaN or an infinity (`.nan`, `-.inf`, `inf`, `NaN`, …), as YAML or Rust does.
fn is_non_finite(s: &str) -> bool {
    let s = s.trim_start_matches(['+', '-']).trim_start_matches('.').to_ascii_lowercase();
    matches!(s.as_str(), "nan" | "inf" | "infinity")
}

fn float_value(x: f64) -> Value {
    serde_json::Number::from_f64(x).map(Value::Number).unwrap_or(Value::Null)
}

fn list(options: &[&str]) -> String {
    options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
}

/// A short description of a JSON value's type, for error messages.
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Bool => write!(f, "a boolean"),
            ParamType::Int { min: Some(a), max: Some(b) } => write!(f, "an integer in [{a}, {b}]"),
            ParamType::Int { min: Some(a), max: None } => write!(f, "an integer >= {a}"),
            ParamType::Int { min: None, max: Some(b) } => write!(f, "an integer <= {b}"),
            ParamType::Int { .. } => write!(f, "an integer"),
            ParamType::Float { min: Some(a), max: Some(b) } => write!(f, "a number in [{a}, {b}]"),
            ParamType::Float { min: Some(a), max: None } => write!(f, "a number >= {a}"),
            ParamType::Float { min: None, max: Some(b) } => write!(f, "a number <= {b}"),
            ParamType::Float { .. } => write!(f, "a number"),
            ParamType::Str => write!(f, "a string"),
            ParamType::Choice(o) => write!(f, "one of {}", list(o)),
            ParamType::Range => write!(f, "a range {{from, to, step}}"),
            ParamType::FloatList => write!(f, "a list of numbers"),
            ParamType::StrList => write!(f, "a list of strings"),
            ParamType::Optional(inner) => write!(f, "{inner} or null"),
        }
    }
}

/// One declared parameter of a node kind.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    /// Name as written in YAML.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Default value; `None` means the parameter is required.
    pub default: Option<Value>,
    /// One-line description.
    pub doc: &'static str,
}

impl ParamSpec {
    /// A parameter with a default.
    pub fn new(name: &'static str, ty: ParamType, default: Value, doc: &'static str) -> Self {
        ParamSpec { name, ty, default: Some(default), doc }
    }

    /// A parameter the workflow must set.
    pub fn required(name: &'static str, ty: ParamType, doc: &'static str) -> Self {
        ParamSpec { name, ty, default: None, doc }
    }
}

/// A grid of floats from `from` to `to` (inclusive) by `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// First value.
    pub from: f64,
    /// Last value (included when the grid lands on it).
    pub to: f64,
    /// Step between values.
    pub step: f64,
}

impl Range {
    fn from_value(v: &Value) -> Result<Self, String> {
        let get = |k: &str| v.get(k).and_then(Value::as_f64).ok_or_else(|| format!("range without `{k}`"));
        Ok(Range { from: get("from")?, to: get("to")?, step: get("step")? })
    }

    /// The grid values, rounded to 10 decimals so 0.1 steps give 0.9, 1.0, … exactly.
    pub fn values(&self) -> Vec<f64> {
        let n = ((self.to - self.from) / self.step + 1e-9).floor() as usize + 1;
        (0..n).map(|i| ((self.from + i as f64 * self.step) * 1e10).round() / 1e10).collect()
    }
}

/// A validated parameter set: every declared parameter present, each of its declared type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(BTreeMap<String, Value>);

impl Params {
    /// Wraps already-validated values.
    pub fn from_map(map: BTreeMap<String, Value>) -> Self {
        Params(map)
    }

    /// All values, sorted by name.
    pub fn map(&self) -> &BTreeMap<String, Value> {
        &self.0
    }

    /// Sets one value (used for sweeps and shards, after validation).
    pub fn set(&mut self, name: &str, value: Value) {
        self.0.insert(name.to_string(), value);
    }

    /// The canonical JSON text of the set: sorted keys, shortest float form.
    pub fn canonical(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The raw value of `name`.
    pub fn value(&self, name: &str) -> Result<&Value, NodeError> {
        self.0.get(name).ok_or_else(|| NodeError::Internal(format!("param `{name}` is not declared")))
    }

    /// A float parameter.
    pub fn f64(&self, name: &str) -> Result<f64, NodeError> {
        self.value(name)?.as_f64().ok_or_else(|| wrong(name, "a number"))
    }

    /// An optional float parameter (`null` gives `None`).
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>, NodeError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            v => v.as_f64().map(Some).ok_or_else(|| wrong(name, "a number")),
        }
    }

    /// An integer parameter.
    pub fn i64(&self, name: &str) -> Result<i64, NodeError> {
        self.value(name)?.as_i64().ok_or_else(|| wrong(name, "an integer"))
    }

    /// A non-negative integer parameter as `usize`.
    pub fn usize(&self, name: &str) -> Result<usize, NodeError> {
        let v = self.i64(name)?;
        usize::try_from(v).map_err(|_| wrong(name, "an integer >= 0"))
    }

    /// An optional non-negative integer parameter.
    pub fn opt_usize(&self, name: &str) -> Result<Option<usize>, NodeError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            _ => self.usize(name).map(Some),
        }
    }

    /// A seed parameter as `u64`.
    pub fn seed(&self, name: &str) -> Result<u64, NodeError> {
        self.value(name)?.as_u64().ok_or_else(|| wrong(name, "an integer >= 0"))
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> Result<bool, NodeError> {
        self.value(name)?.as_bool().ok_or_else(|| wrong(name, "a boolean"))
    }

    /// A string parameter.
    pub fn str(&self, name: &str) -> Result<&str, NodeError> {
        self.value(name)?.as_str().ok_or_else(|| wrong(name, "a string"))
    }

    /// An optional string parameter.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, NodeError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            v => v.as_str().map(Some).ok_or_else(|| wrong(name, "a string")),
        }
    }

    /// A list of strings.
    pub fn strs(&self, name: &str) -> Result<Vec<String>, NodeError> {
        match self.value(name)? {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => Ok(items.iter().filter_map(|v| v.as_str().map(String::from)).collect()),
            _ => Err(wrong(name, "a list of strings")),
        }
    }

    /// A range parameter.
    pub fn range(&self, name: &str) -> Result<Range, NodeError> {
        Range::from_value(self.value(name)?).map_err(|_| wrong(name, "a range"))
    }
}

fn wrong(name: &str, what: &str) -> NodeError {
    NodeError::Internal(format!("param `{name}` is not {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ints_are_accepted_as_floats_and_canonicalised() {
        let ty = ParamType::Float { min: None, max: None };
        assert_eq!(ty.check(&json!(1)).unwrap(), json!(1.0));
        assert_eq!(ty.check(&json!(1)).unwrap().to_string(), ty.check(&json!(1.0)).unwrap().to_string());
    }

    #[test]
    fn bounds_and_types_are_enforced() {
        assert!(ParamType::positive().check(&json!(0)).is_err());
        assert!(ParamType::positive().check(&json!(1.5)).is_err());
        assert!(ParamType::fraction().check(&json!(1.5)).unwrap_err().contains("maximum"));
        assert!(ParamType::Bool.check(&json!("yes")).unwrap_err().contains("boolean"));
    }

    #[test]
    fn choice_suggests_the_nearest_option() {
        let err = ParamType::Choice(&["gmm", "median"]).check(&json!("gnm")).unwrap_err();
        assert!(err.contains("did you mean `gmm`"), "{err}");
    }

    #[test]
    fn range_values_land_on_decimal_grid() {
        let r = Range { from: 0.9, to: 2.0, step: 0.1 };
        let v = r.values();
        assert_eq!(v.len(), 12);
        assert_eq!(v[1], 1.0);
        assert_eq!(v[11], 2.0);
    }

    proptest::proptest! {
        /// The canonical text, which enters every task key, ignores how a value was spelled
        /// (`1`, `1.0`, `1e0`) and the order the keys were written in.
        #[test]
        fn canonical_params_ignore_spelling_and_key_order(
            values in proptest::collection::btree_map("[a-z]{1,8}", -1_000_000i64..1_000_000, 1..8),
            halves in proptest::collection::vec(proptest::bool::ANY, 8),
            order in proptest::collection::vec(0usize..1000, 8),
        ) {
            let ty = ParamType::Float { min: None, max: None };
            let spelled = |as_int: bool, v: i64| -> Value {
                // Half of the values are integral, half end in .5: both spellings of each.
                let x = v as f64 / 2.0;
                let text = if as_int && x.fract() == 0.0 { format!("{}", x as i64) } else { format!("{x:e}") };
                serde_json::from_str(&text).expect("a JSON number")
            };
            let build = |as_int: bool, shuffled: bool| -> String {
                let mut entries: Vec<(usize, (&String, &i64))> = values.iter().enumerate().collect();
                if shuffled {
                    entries.sort_by_key(|(i, _)| order[i % order.len()] ^ i);
                }
                let mut map = BTreeMap::new();
                for (i, (name, &v)) in entries {
                    let raw = spelled(as_int && halves[i % halves.len()], v);
                    map.insert(name.clone(), ty.check(&raw).expect("a float is accepted"));
                }
                Params::from_map(map).canonical()
            };
            proptest::prop_assert_eq!(build(true, false), build(false, true));
        }
    }
}
