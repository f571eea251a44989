//! What a kind declares, as data: its ports ([`ports!`]) and its params ([`kind_params!`]).
//!
//! [`kind_params!`] makes both the `ParamSpec` list (what the workflow loader checks and
//! `gcrl kinds` prints) and a struct with one field per param, decoded from the checked
//! [`Params`] at the start of a task. A param's name is its field's name, so the two cannot
//! drift, and a misspelt param inside a node is a compile error (linfa's `ParamGuard`: checked
//! params before fitting). The cache key still comes from [`Params`], so typing changes no key.

use serde_json::{Value, json};

use crate::algo::eigengene::Pca;
use crate::kind::params::Range;
use crate::kind::{NodeError, ParamSpec, ParamType, Params};

/// A Rust value that a checked param decodes into.
pub trait FromParam: Sized {
    /// The value of param `name`; an error names the param.
    fn from_param(params: &Params, name: &str) -> Result<Self, NodeError>;
}

/// A decoded value written back as the checked param it came from (what a shard carries): the
/// inverse of [`FromParam`], so a shard built from typed values has the same key as one copied
/// from the checked params.
pub trait ToParam {
    /// Sets param `name` to this value's canonical form.
    fn to_param(&self, params: &mut Params, name: &str);
}

macro_rules! from_param {
    ($($ty:ty => $get:ident),* $(,)?) => {
        $(impl FromParam for $ty {
            fn from_param(params: &Params, name: &str) -> Result<Self, NodeError> {
                params.$get(name).map(Into::into)
            }
        }

        impl ToParam for $ty {
            fn to_param(&self, params: &mut Params, name: &str) {
                params.set(name, json!(self));
            }
        })*
    };
}

from_param! {
    bool => bool,
    i64 => i64,
    usize => usize,
    u64 => seed,
    f64 => f64,
    String => str,
    Vec<String> => strs,
}

/// `null` is `None`; any other value is the inner type's.
impl<T: FromParam> FromParam for Option<T> {
    fn from_param(params: &Params, name: &str) -> Result<Self, NodeError> {
        match params.value(name)? {
            Value::Null => Ok(None),
            _ => T::from_param(params, name).map(Some),
        }
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn to_param(&self, params: &mut Params, name: &str) {
        match self {
            Some(value) => value.to_param(params, name),
            None => params.set(name, Value::Null),
        }
    }
}

impl FromParam for Range {
    fn from_param(params: &Params, name: &str) -> Result<Self, NodeError> {
        params.range(name)
    }
}

impl ToParam for Range {
    fn to_param(&self, params: &mut Params, name: &str) {
        params.set(name, json!({"from": self.from, "to": self.to, "step": self.step}));
    }
}

/// The `pca` choice: `covariance` (A.3) or `correlation` (WGCNA).
impl FromParam for Pca {
    fn from_param(params: &Params, name: &str) -> Result<Self, NodeError> {
        Ok(if params.str(name)? == "correlation" { Pca::Correlation } else { Pca::Covariance })
    }
}

impl ToParam for Pca {
    fn to_param(&self, params: &mut Params, name: &str) {
        let choice = match self {
            Pca::Covariance => "covariance",
            Pca::Correlation => "correlation",
        };
        params.set(name, json!(choice));
    }
}

/// The spec of a float param `>= 0` (a weight, a noise level, a learning rate) with a default.
pub fn non_negative(name: &'static str, default: f64, doc: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::non_negative(), json!(default), doc)
}

/// The spec of an integer param `>= 0` (a count, an epoch, a seed) with a default.
pub fn count(name: &'static str, default: usize, doc: &'static str) -> ParamSpec {
    ParamSpec::new(name, ParamType::count(), json!(default), doc)
}

/// The struct of [`kind_params!`] and [`shard_params!`] with `decode(&Params)` and
/// `write(&mut Params)`; `$what` opens each field's doc.
macro_rules! params_struct {
    (
        $what:literal,
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $(#[flatten] $group:ident : $gty:ty,)* $($field:ident : $ty:ty),* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis struct $name {
            $(#[doc = concat!("The params of [`", stringify!($gty), "`], flattened in.")] pub $group: $gty,)*
            $(#[doc = concat!($what, " `", stringify!($field), "`.")] pub $field: $ty,)*
        }

        impl $name {
            /// Every field from its checked param.
            pub fn decode(params: &$crate::kind::Params) -> Result<Self, $crate::kind::NodeError> {
                Ok($name {
                    $($group: <$gty>::decode(params)?,)*
                    $($field: $crate::nodes::declare::FromParam::from_param(params, stringify!($field))?,)*
                })
            }

            /// Sets every field's param in `params`, as [`decode`](Self::decode) read it.
            pub fn write(&self, params: &mut $crate::kind::Params) {
                $(self.$group.write(params);)*
                $($crate::nodes::declare::ToParam::to_param(&self.$field, params, stringify!($field));)*
            }
        }
    };
}
pub(crate) use params_struct;

/// Declares a kind's params: a struct with one public field per param and, on it, `specs()`
/// (the [`ParamSpec`](crate::kind::ParamSpec)s, in field order), `decode(&Params)` and
/// `write(&mut Params)` back.
///
/// Each field reads `name: RustType = spec_fn(args…)`: the spec is `spec_fn(“name”, args…)`, so
/// `ParamSpec::new(ty, default, doc)`, `ParamSpec::required(ty, doc)` or a shared spec function
/// that takes the name first. Leading `#[flatten] group: Group,` fields embed another params
/// struct: its params come first, under their own names (params that two kinds share).
///
/// ```ignore
/// kind_params! {
///     /// Params of `diag-sum`.
///     pub struct SumParams {
///         digits: usize = ParamSpec::new(ParamType::count(), json!(6), "round the sum to this many decimals"),
///     }
/// }
/// let p = SumParams::decode(&params)?; // p.digits
/// ```
macro_rules! kind_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(#[flatten] $group:ident : $gty:ty,)*
            $($field:ident : $ty:ty = $spec:ident $(:: $spec_tail:ident)* ($($arg:expr),* $(,)?)),* $(,)?
        }
    ) => {
        $crate::nodes::declare::params_struct! {
            "Param",
            $(#[$meta])*
            $vis struct $name { $(#[flatten] $group: $gty,)* $($field: $ty),* }
        }

        impl $name {
            /// The declared params, in field order.
            pub fn specs() -> Vec<$crate::kind::ParamSpec> {
                let mut specs: Vec<$crate::kind::ParamSpec> = Vec::new();
                $(specs.extend(<$gty>::specs());)*
                specs.extend([$($spec $(:: $spec_tail)* (stringify!($field), $($arg),*)),*]);
                specs
            }
        }
    };
}
pub(crate) use kind_params;

/// A list of [`PortSpec`](crate::kind::PortSpec)s, one `name: "doc"` each; `name?: "doc"` is
/// an input the workflow may leave out.
macro_rules! ports {
    (@list [$($port:expr),*]) => { vec![$($port),*] };
    (@list [$($port:expr),*] $name:ident ?: $doc:literal $(, $($rest:tt)*)?) => {
        $crate::nodes::declare::ports!(
            @list [$($port,)* $crate::kind::PortSpec::optional(stringify!($name), $doc)] $($($rest)*)?
        )
    };
    (@list [$($port:expr),*] $name:ident : $doc:literal $(, $($rest:tt)*)?) => {
        $crate::nodes::declare::ports!(
            @list [$($port,)* $crate::kind::PortSpec::new(stringify!($name), $doc)] $($($rest)*)?
        )
    };
    ($($list:tt)*) => { $crate::nodes::declare::ports!(@list [] $($list)*) };
}
pub(crate) use ports;

/// Declares the params of one shard of a sharded kind (its cache key): a struct with `params()`,
/// the [`Params`] a [`Shard`](crate::kind::Shard) carries, and `decode(&Params)` back. Leading
/// `#[flatten] group: Group,` fields embed a [`kind_params!`] struct, as there.
macro_rules! shard_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $(#[flatten] $group:ident : $gty:ty,)* $($field:ident : $ty:ty),* $(,)? }
    ) => {
        $crate::nodes::declare::params_struct! {
            "Shard param",
            $(#[$meta])*
            $vis struct $name { $(#[flatten] $group: $gty,)* $($field: $ty),* }
        }

        impl $name {
            /// The shard's params, as its [`Shard`](crate::kind::Shard) carries them.
            pub fn params(&self) -> $crate::kind::Params {
                let mut params = $crate::kind::Params::default();
                self.write(&mut params);
                params
            }
        }
    };
}
pub(crate) use shard_params;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::kind::{ParamSpec, ParamType, Params};

    /// A value of `ty` as the loader would pass it: the smallest allowed, the first choice, …
    fn sample(ty: &ParamType) -> Value {
        match ty {
            ParamType::Bool => json!(false),
            ParamType::Int { min, .. } => json!(min.unwrap_or(0)),
            ParamType::Float { min, .. } => json!(min.unwrap_or(0.0)),
            ParamType::Str => json!("x"),
            ParamType::Choice(options) => json!(options[0]),
            ParamType::Range => json!({"from": 1.0, "to": 1.0, "step": 1.0}),
            ParamType::FloatList => json!([1.0]),
            ParamType::StrList => json!(["x"]),
            ParamType::Optional(_) => Value::Null,
        }
    }

    /// Every param checked as the workflow loader checks it: its default, else a sample.
    fn checked(specs: &[ParamSpec]) -> Params {
        let map: BTreeMap<String, Value> = specs
            .iter()
            .map(|s| {
                let raw = s.default.clone().unwrap_or_else(|| sample(&s.ty));
                (s.name.to_string(), s.ty.check(&raw).unwrap_or_else(|e| panic!("param `{}`: {e}", s.name)))
            })
            .collect();
        Params::from_map(map)
    }

    /// Each field's Rust type reads what its spec's type lets through (the names agree by
    /// construction: both come from the field).
    #[test]
    fn every_kinds_checked_params_decode_into_its_params_struct() {
        macro_rules! decodes {
            ($($ty:path),* $(,)?) => {$(
                let decoded = <$ty>::decode(&checked(&<$ty>::specs()));
                assert!(decoded.is_ok(), "{}: {:?}", stringify!($ty), decoded.err());
            )*};
        }
        use crate::nodes::*;
        decodes!(
            ae_train::AeTrainParams,
            baseline_eval::BaselineParams,
            gcrl_ae::AeParams,
            permutation_test::PermutationParams,
            vae_train::VaeParams,
            diag::NumbersParams,
            diag::SumParams,
            diag::SweepParams,
            eigengene::EigengeneParams,
            leiden_sweep::SweepParams,
            ora::OraParams,
            grn::GrnParams,
            load_params::LoadParams,
            preprocess::PreprocessParams,
            pseudobulk::PseudobulkParams,
            report::ReportParams,
            simulate::SimulateParams,
            tmex_align::AlignParams,
        );
    }
}
