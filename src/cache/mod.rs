//! The content-addressed store: Arrow objects named by their blake3, task manifests named by
//! task key, task locks, run records and their seals, and maintenance (`du`, `gc`, `verify`).
//!
//! It knows nothing of workflows or node kinds: keys and objects are opaque strings and bytes.

mod atomic;
mod commit;
mod error;
mod hash;
mod layout;
mod lock;
mod maintenance;
mod manifest;
mod object;
mod presence;
mod runs;
mod seal;
mod store;

pub use atomic::{hostname, write_atomic};
pub use error::CacheError;
pub use hash::{hash_bytes, hash_file};
pub use lock::TaskLock;
pub use maintenance::{GcReport, Usage, VerifyReport};
pub use manifest::{Manifest, OutputRecord, TaskUsage};
pub use object::ObjectWriter;
pub use runs::{RunRecord, TaskEntry};
pub use store::Cache;
