//! `publish:` paths of a workflow: the formats a published file may have, named by its extension
//! (the engine writes them after a run, see `engine::publish`).

use std::path::Path;

/// Extensions a published file may have: the table formats of `gcrl export`, and `.html`,
/// `.svg`, `.txt` for a one-cell string table (written as that text; a larger table as `.txt` is
/// tab-separated).
pub const FORMATS: &[&str] = &["csv", "tsv", "arrow", "feather", "parquet", "txt", "html", "svg"];

/// The lowercase extension of `path` (empty when it has none): the format it is written in.
pub fn extension(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// Checks that `path` ends in one of [`FORMATS`]; the error says which are known.
pub fn check_path(path: &Path) -> Result<(), String> {
    if FORMATS.contains(&extension(path).as_str()) {
        return Ok(());
    }
    let known = FORMATS.iter().map(|f| format!(".{f}")).collect::<Vec<_>>().join(" ");
    Err(format!("`{}` has no known format; end it in one of {known}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_formats_are_accepted() {
        assert!(check_path(Path::new("r/x.HTML")).is_ok());
        let e = check_path(Path::new("r/x.xlsx")).unwrap_err();
        assert!(e.contains("x.xlsx") && e.contains(".parquet"), "{e}");
    }
}
