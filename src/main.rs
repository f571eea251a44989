//! The `gcrl` binary: everything lives in the library; see [`gcrl::cli`].

fn main() {
    gcrl::models::reuse_freed_memory();
    std::process::exit(gcrl::cli::main());
}
