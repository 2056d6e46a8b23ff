//! Small response shapes shared by many actions.

use serde::Serialize;

/// `{"success": true}`: what KohakuHub answers for an action with nothing else to say.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Success {
    pub success: bool,
}

impl Success {
    pub fn new() -> Success {
        Success { success: true }
    }
}

impl Default for Success {
    fn default() -> Self {
        Success::new()
    }
}
