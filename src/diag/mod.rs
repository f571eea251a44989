//! Diagnostics for the YAML files gcrl reads (workflows, plugin manifests, profiles): the
//! positioned parser ([`yaml`]), "did you mean" ([`suggest`]), and the collected errors with
//! `file:line:col`, the offending line and a caret ([`report`]). It sits below every layer that
//! reads YAML and imports none of them.

pub mod report;
pub mod suggest;
pub mod yaml;

pub use report::{Diagnostic, Diags, FileError};
