//! Node kinds, one file each: thin adapters from tables to `algo/` (house rule 2).

pub mod ae_train;
pub mod baseline_eval;
pub mod common;
pub mod declare;
pub mod diag;
pub mod effect_structure;
pub mod eigengene;
mod error;
pub mod gcrl_ae;
pub mod grn;
pub mod leiden_sweep;
pub mod load;
pub mod load_labels;
pub mod load_params;
pub mod load_read;
pub mod ora;
pub mod permutation_test;
pub mod preprocess;
pub mod pseudobulk;
pub mod report;
pub mod simulate;
pub mod tmex_align;
pub mod vae_train;

use std::sync::Arc;

use crate::kind::Registry;

/// Every built-in kind.
pub fn builtin() -> Registry {
    let mut r = Registry::new();
    r.register(Arc::new(ae_train::AeTrain));
    r.register(Arc::new(baseline_eval::BaselineEval));
    r.register(Arc::new(diag::DiagNumbers));
    r.register(Arc::new(diag::DiagSum));
    r.register(Arc::new(diag::DiagSweep));
    r.register(Arc::new(effect_structure::EffectStructure));
    r.register(Arc::new(eigengene::Eigengene));
    r.register(Arc::new(grn::Grn));
    r.register(Arc::new(leiden_sweep::LeidenSweep));
    r.register(Arc::new(load::Load));
    r.register(Arc::new(ora::Ora));
    r.register(Arc::new(permutation_test::PermutationTest));
    r.register(Arc::new(preprocess::Preprocess));
    r.register(Arc::new(pseudobulk::Pseudobulk));
    r.register(Arc::new(report::Report));
    r.register(Arc::new(simulate::Simulate));
    r.register(Arc::new(tmex_align::TmexAlign));
    r.register(Arc::new(vae_train::VaeTrain));
    r
}
