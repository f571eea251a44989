//! The exit-code table of README.md against `src/cli/exit.rs`, where every code is defined: a
//! code added, removed or renumbered on one side only fails here.

use std::collections::BTreeSet;

fn read(file: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).expect(file)
}

/// The values of `pub const NAME: i32 = N;` in exit.rs.
fn defined() -> BTreeSet<i32> {
    read("src/cli/exit.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub const ")?.split_once(": i32 = ")?.1.trim_end_matches(';').parse().ok())
        .collect()
}

/// The first column of the table under `### Exit codes` in README.md.
fn documented() -> BTreeSet<i32> {
    let readme = read("README.md");
    let section = readme.split("### Exit codes").nth(1).expect("README.md has an `### Exit codes` section");
    let rows = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
    rows.filter_map(|l| l.trim_matches('|').split('|').next()?.trim().parse().ok()).collect()
}

#[test]
fn the_readme_lists_every_exit_code_the_cli_defines() {
    let (code, readme) = (defined(), documented());
    assert_eq!(code.len(), 7, "exit.rs defines {code:?}");
    assert_eq!(code, readme, "src/cli/exit.rs defines {code:?}, README.md's exit-code table lists {readme:?}");
}
