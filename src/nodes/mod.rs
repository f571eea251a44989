//! Node kinds, one file each: thin adapters from tables to `algo/` (house rule 2).

pub mod diag;

use std::sync::Arc;

use crate::engine::Registry;

/// Every built-in kind.
pub fn builtin() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(diag::DiagNumbers));
    r.register(Arc::new(diag::DiagSum));
    r.register(Arc::new(diag::DiagSweep));
    r
}
