//! The science's errors as node errors: an algorithm's or a model's failure is the node's
//! [`NodeError::Compute`], with the message it had. Here, not in the kind contract, so that the
//! floors below `nodes/` name no science.

use crate::algo::AlgoError;
use crate::kind::NodeError;
use crate::models::ModelError;

impl From<AlgoError> for NodeError {
    fn from(e: AlgoError) -> Self {
        NodeError::Compute(Box::new(e))
    }
}

impl From<ModelError> for NodeError {
    fn from(e: ModelError) -> Self {
        NodeError::Compute(Box::new(e))
    }
}
