//! Errors of the plugin layer: a plugin folder that cannot be read or a `plugin.yaml` that is wrong.
//! (A plugin that fails while running is a task failure, [`crate::kind::NodeError::External`].)

use std::path::PathBuf;

use thiserror::Error;

use crate::workflow::WorkflowError;

/// Why the plugins could not be loaded. Nothing runs until they are fixed.
#[derive(Debug, Error)]
pub enum PluginError {
    /// A `plugin.yaml` is malformed; names the file, line and column, shows the line.
    #[error("{0}")]
    Manifest(Box<WorkflowError>),
    /// A plugin folder (or a folder named by `--plugins`/`GCRL_PLUGINS`) cannot be read.
    #[error("cannot read plugin folder {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Two plugin folders declare the same name.
    #[error("plugin `{name}` is defined twice: in {first} and in {second}; rename one")]
    Duplicate {
        /// The name.
        name: String,
        /// The first folder.
        first: PathBuf,
        /// The second folder.
        second: PathBuf,
    },
    /// A plugin takes the name of a built-in kind.
    #[error("plugin `{name}` in {path} has the name of a built-in kind; rename it")]
    Builtin {
        /// The name.
        name: String,
        /// The plugin folder.
        path: PathBuf,
    },
}

impl From<WorkflowError> for PluginError {
    fn from(e: WorkflowError) -> Self {
        PluginError::Manifest(Box::new(e))
    }
}
