//! Gene-set files in GMT format (`ID<TAB>name<TAB>gene…`, one set a line; `.gz` allowed).

use std::io::{BufRead, BufReader};
use std::path::Path;

use super::IoError;

/// One gene set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneSet {
    /// Identifier (e.g. `GO:0000002`).
    pub id: String,
    /// Description.
    pub name: String,
    /// Member genes.
    pub genes: Vec<String>,
}

/// Reads every gene set of a GMT file.
pub fn read_gmt(path: &Path) -> Result<Vec<GeneSet>, IoError> {
    let invalid = |line: usize, reason: String| IoError::Invalid {
        path: path.to_path_buf(),
        object: format!("line {line}"),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| IoError::Read { path: path.to_path_buf(), source })?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut sets = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| invalid(n + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('\t');
        let (Some(id), Some(name)) = (fields.next(), fields.next()) else {
            return Err(invalid(n + 1, "expected `ID<TAB>name<TAB>genes…`".into()));
        };
        let genes = fields.filter(|g| !g.is_empty()).map(String::from).collect();
        sets.push(GeneSet { id: id.to_string(), name: name.to_string(), genes });
    }
    Ok(sets)
}
