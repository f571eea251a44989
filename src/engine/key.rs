//! Task keys: blake3 over what determines a task's result, and nothing else.

use std::collections::BTreeMap;

/// The key of a task: blake3 over the kind name and version, the role (whole, shard, reduce),
/// the canonical parameters and the content hashes of its inputs (and, for a reduce step,
/// of its shards' outputs). Node ids, labels and scheduling do not enter it.
pub fn task_key(
    kind: &str,
    version: u32,
    role: &str,
    params_canonical: &str,
    inputs: &BTreeMap<String, Vec<String>>,
    shards: &[BTreeMap<String, String>],
) -> String {
    let doc = serde_json::json!({
        "gcrl-task": 1,
        "kind": kind,
        "version": version,
        "role": role,
        "params": params_canonical,
        "inputs": inputs,
        "shards": shards,
    });
    blake3::hash(doc.to_string().as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_each_ingredient_and_only_with_them() {
        let inputs = BTreeMap::from([("x".to_string(), vec!["h1".to_string()])]);
        let k = task_key("grn", 1, "whole", r#"{"a":1}"#, &inputs, &[]);
        assert_eq!(k, task_key("grn", 1, "whole", r#"{"a":1}"#, &inputs.clone(), &[]));
        assert_ne!(k, task_key("grn", 2, "whole", r#"{"a":1}"#, &inputs, &[]));
        assert_ne!(k, task_key("grn", 1, "shard", r#"{"a":1}"#, &inputs, &[]));
        assert_ne!(k, task_key("grn", 1, "whole", r#"{"a":2}"#, &inputs, &[]));
        let other = BTreeMap::from([("x".to_string(), vec!["h2".to_string()])]);
        assert_ne!(k, task_key("grn", 1, "whole", r#"{"a":1}"#, &other, &[]));
    }
}
