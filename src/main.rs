//! The `gcrl` binary: everything lives in the library; see [`gcrl::cli`].

fn main() {
    std::process::exit(gcrl::cli::main());
}
