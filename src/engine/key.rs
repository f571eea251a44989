//! Task keys: blake3 over what determines a task's result, and nothing else.
//!
//! The key covers the kind name and version (and, for a plugin, the hash of its files), the role (whole, shard, reduce), the canonical
//! parameters and the content hashes of the inputs (and, for a reduce step, of its shards'
//! outputs). Node ids, labels and scheduling do not enter it, except for a kind that reads its
//! inputs' origins (`NodeKind::reads_origins`, e.g. the report): there each input's producer node,
//! port, kind and sweep instance enter too, since its result shows them. Every field is length-prefixed, so
//! distinct ingredients never hash alike; the hasher is fed directly, without building a
//! document first, because a no-op run computes thousands of keys.

/// Builds one task key.
#[derive(Debug, Clone)]
pub struct KeyHasher(blake3::Hasher);

impl KeyHasher {
    /// Starts a key for a task of `kind` (at `version`) in `role`, with canonical `params`.
    pub fn new(kind: &str, version: u32, role: &str, params: &str) -> Self {
        let mut h = KeyHasher(blake3::Hasher::new());
        h.field(b"gcrl-task-1");
        h.field(kind.as_bytes());
        h.field(&version.to_le_bytes());
        h.field(role.as_bytes());
        h.field(params.as_bytes());
        h
    }

    fn field(&mut self, bytes: &[u8]) {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    /// Adds the fingerprint of code outside gcrl that the kind runs (see `NodeKind::fingerprint`).
    pub fn fingerprint(&mut self, hash: &str) {
        self.field(b"code");
        self.field(hash.as_bytes());
    }

    /// Adds one input value of `port` (ports in sorted order, values in order).
    pub fn input(&mut self, port: &str, hash: &str) {
        self.field(b"in");
        self.field(port.as_bytes());
        self.field(hash.as_bytes());
    }

    /// Adds where the input just added comes from: producer `node`, its `output`, its `kind` and
    /// its sweep `instance` as canonical JSON (only for kinds that read origins).
    pub fn origin(&mut self, node: &str, output: &str, kind: &str, instance: &str) {
        self.field(b"origin");
        self.field(node.as_bytes());
        self.field(output.as_bytes());
        self.field(kind.as_bytes());
        self.field(instance.as_bytes());
    }

    /// Adds output `name` of shard `index` (shards in order, outputs sorted).
    pub fn shard_output(&mut self, index: usize, name: &str, hash: &str) {
        self.field(b"shard");
        self.field(&(index as u64).to_le_bytes());
        self.field(name.as_bytes());
        self.field(hash.as_bytes());
    }

    /// The key as lowercase hex.
    pub fn finish(&self) -> String {
        self.0.finalize().to_hex().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, version: u32, role: &str, params: &str, inputs: &[(&str, &str)]) -> String {
        let mut h = KeyHasher::new(kind, version, role, params);
        for (p, v) in inputs {
            h.input(p, v);
        }
        h.finish()
    }

    #[test]
    fn keys_change_with_each_ingredient_and_only_with_them() {
        let k = key("grn", 1, "whole", r#"{"a":1}"#, &[("x", "h1")]);
        assert_eq!(k, key("grn", 1, "whole", r#"{"a":1}"#, &[("x", "h1")]));
        assert_ne!(k, key("grn", 2, "whole", r#"{"a":1}"#, &[("x", "h1")]));
        assert_ne!(k, key("grn", 1, "shard", r#"{"a":1}"#, &[("x", "h1")]));
        assert_ne!(k, key("grn", 1, "whole", r#"{"a":2}"#, &[("x", "h1")]));
        assert_ne!(k, key("grn", 1, "whole", r#"{"a":1}"#, &[("x", "h2")]));
        assert_ne!(k, key("grn", 1, "whole", r#"{"a":1}"#, &[("xh", "1")]), "fields are framed");
        let mut with_shard = KeyHasher::new("grn", 1, "whole", r#"{"a":1}"#);
        with_shard.input("x", "h1");
        with_shard.shard_output(0, "runs", "h3");
        assert_ne!(k, with_shard.finish());
        let mut with_code = KeyHasher::new("grn", 1, "whole", r#"{"a":1}"#);
        with_code.fingerprint("c1");
        with_code.input("x", "h1");
        let code1 = with_code.finish();
        assert_ne!(k, code1, "a kind's code fingerprint enters the key");
        let mut other = KeyHasher::new("grn", 1, "whole", r#"{"a":1}"#);
        other.fingerprint("c2");
        other.input("x", "h1");
        assert_ne!(code1, other.finish());
        let with_origin = |node: &str, instance: &str| {
            let mut h = KeyHasher::new("grn", 1, "whole", r#"{"a":1}"#);
            h.input("x", "h1");
            h.origin(node, "edges", "grn", instance);
            h.finish()
        };
        let o = with_origin("net", "{}");
        assert_ne!(k, o, "an origin enters the key");
        assert_ne!(o, with_origin("net2", "{}"), "so does the producer's id");
        assert_ne!(o, with_origin("net", r#"{"m":1}"#), "and its instance");
    }

    /// Every user's cache is addressed by these keys: a change of framing, of the canonical
    /// parameter text (key order, `1` read as a float, the shortest float form) or of the hasher
    /// would silently recompute everything. This pins one key; change the hex only on purpose,
    /// with a note in the changelog that caches are invalidated.
    ///
    /// The hex was reproduced outside gcrl with Python's `blake3` package over the same framing
    /// (each field as its little-endian u64 length, then its bytes).
    #[test]
    fn a_golden_key_pins_the_framing_and_the_canonical_parameters() {
        use crate::kind::params::{ParamType, Params};
        use serde_json::json;
        let float = ParamType::Float { min: None, max: None };
        let mut map = std::collections::BTreeMap::new();
        map.insert("seed".to_string(), json!(7));
        map.insert("alpha".to_string(), float.check(&json!(10)).unwrap());
        map.insert("l1".to_string(), float.check(&json!(1e-3)).unwrap());
        map.insert("flavor".to_string(), json!("seurat"));
        map.insert("resolution".to_string(), json!({"from": 0.9, "to": 2.0, "step": 0.1}));
        let params = Params::from_map(map).canonical();
        assert_eq!(
            params,
            r#"{"alpha":10.0,"flavor":"seurat","l1":0.001,"resolution":{"from":0.9,"step":0.1,"to":2.0},"seed":7}"#
        );
        let mut h = KeyHasher::new("grn", 3, "whole", &params);
        h.input("expression", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
        h.input("tfs", "0000000000000000000000000000000000000000000000000000000000000001");
        assert_eq!(h.finish(), "556eb4240a350f66c57c5f4169de452c729fb8d67259831fb2f70b6d7369e7d4");
    }
}
