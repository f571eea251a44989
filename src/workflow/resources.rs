//! `resources:` of a workflow node or a plugin manifest, read by one function with one rule:
//! every value is a number; `gpus` may be 0, everything else must be above 0 (a task with no
//! cores, memory or time means nothing, and Slurm reads `--mem=0` as "all of the node").

use crate::diag::Diags;
use crate::diag::yaml::Node;
use crate::diag::yaml::Yaml;
use crate::kind::Resources;

/// The keys `resources:` may have.
pub const RESOURCE_KEYS: &[&str] = &["cpus", "gpus", "mem_gb", "minutes", "max_mem_gb", "max_minutes"];

/// `base` with the values of the `resources:` mapping `node` of `owner` (`of node `x``, `of
/// the plugin`); each problem goes to `diags`.
pub fn resources(diags: &mut Diags, node: &Node, base: Resources, owner: &str) -> Resources {
    let mut r = base;
    let what = format!("`resources` {owner}");
    let Some(entries) = diags.mapping(node, &what) else { return r };
    diags.check_keys(entries, RESOURCE_KEYS, &what);
    for (k, v) in entries {
        let num = match v.value {
            Yaml::Int(i) if i >= 0 => i as f64,
            Yaml::Float(f) if f >= 0.0 => f,
            _ => {
                diags.at_node(v, format!("resource `{}` {owner} must be a non-negative number", k.name), String::new());
                continue;
            }
        };
        if num == 0.0 && k.name != "gpus" {
            diags.at_node(
                v,
                format!("resource `{}` {owner} must be above 0 (only `gpus` may be 0)", k.name),
                String::new(),
            );
            continue;
        }
        match k.name.as_str() {
            "cpus" => r.cpus = (num as usize).max(1),
            "gpus" => r.gpus = num as usize,
            "mem_gb" => r.mem_gb = Some(num),
            "minutes" => r.minutes = num,
            "max_mem_gb" => r.max_mem_gb = Some(num),
            "max_minutes" => r.max_minutes = Some(num),
            _ => {}
        }
    }
    for (cap, limit, asked) in [("max_mem_gb", r.max_mem_gb, r.mem_gb), ("max_minutes", r.max_minutes, Some(r.minutes))]
    {
        if let Some((limit, asked)) = limit.zip(asked).filter(|&(l, a)| l < a)
            && let Some((_, v)) = entries.iter().find(|(k, _)| k.name == cap)
        {
            let what = cap.trim_start_matches("max_");
            diags.at_node(
                v,
                format!("`{cap}` {owner} ({limit}) is below its `{what}` ({asked}); raise the cap or lower `{what}`"),
                String::new(),
            );
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Resources, String> {
        let mut d = Diags::default();
        let node = d.parse(text).unwrap();
        let r = resources(&mut d, &node, Resources::default(), "of node `a`");
        d.finish(std::path::Path::new("w.yaml"), text, Some(r)).map_err(|e| e.to_string())
    }

    #[test]
    fn zero_is_refused_except_for_gpus_int_or_float() {
        for zero in ["0", "0.0"] {
            let e = read(&format!("mem_gb: {zero}\n")).unwrap_err();
            assert!(e.contains("resource `mem_gb` of node `a` must be above 0") && e.contains("w.yaml:1:9"), "{e}");
        }
        assert_eq!(read("gpus: 0\ncpus: 2\nmem_gb: 0.5\n").unwrap().cpus, 2);
        assert!(read("cpus: -1\n").unwrap_err().contains("must be a non-negative number"));
        assert!(read("cpu: 1\n").unwrap_err().contains("did you mean `cpus`?"));
    }
}
