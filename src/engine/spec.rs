//! [`KindSpec`]: what a node kind declares about itself (name, version, doc, ports, params),
//! written once per kind as data; [`NodeKind`](super::NodeKind)'s metadata methods read it.
//!
//! Built-in kinds keep theirs in a `static` (their params come from the kind's typed params
//! struct, see `nodes::params`); a plugin builds its own from `plugin.yaml`.

use super::kind::PortSpec;
use super::params::ParamSpec;

/// The declaration of one node kind.
#[derive(Debug, Clone)]
pub struct KindSpec {
    /// Name used in workflows (`kind: grn`).
    pub name: &'static str,
    /// Bumped whenever results change for the same inputs; part of every cache key.
    pub version: u32,
    /// One-line description.
    pub doc: &'static str,
    /// Input ports, in the order `gcrl kinds` lists them.
    pub inputs: Vec<PortSpec>,
    /// Output ports.
    pub outputs: Vec<PortSpec>,
    /// Parameters with types and defaults.
    pub params: Vec<ParamSpec>,
}
