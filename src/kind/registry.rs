//! The set of node kinds a workflow may use.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::node::NodeKind;

/// Node kinds by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<String, Arc<dyn NodeKind>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a kind (replacing one of the same name).
    pub fn register(&mut self, kind: Arc<dyn NodeKind>) {
        self.kinds.insert(kind.name().to_string(), kind);
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn NodeKind>> {
        self.kinds.get(name).cloned()
    }

    /// Every kind name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// Every kind, sorted by name.
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<dyn NodeKind>> {
        self.kinds.values()
    }
}
