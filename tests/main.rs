//! The integration tests, in one binary (each test binary is a separate release link of burn
//! and arrow): `cli` drives the `gcrl` binary as a user would, `crosscheck` compares gcrl's
//! algorithms with the Python reference libraries, `science` runs the demo and real screens and
//! checks what they recover, `layers` reads the imports of `src/` for cycles, `parser` throws generated and damaged workflows at the loader, `fuzz_load` damaged
//! cell tables, MatrixMarket files and h5ad files at the readers, `regression` holds a test per
//! fixed bug, `session` runs a workflow through the library without the CLI, `scheduler` runs
//! random workflows through a fake executor in any completion order.
//! `cargo test --release --test main -- cli::` runs one of them.

mod cli;
mod crosscheck;
mod fuzz_load;
mod layers;
mod parser;
mod regression;
mod scheduler;
mod science;
mod session;
