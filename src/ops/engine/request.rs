//! What the CLI and the TUI ask the engine for: the input of a plan, of a move, of the crash
//! journal's operation record, and of `undo`'s reverse move. Its own file because the plan,
//! the namespace cleanup and the journal all read it, and none of them should import another
//! for it.

use crate::tree::{GroupId, Namespace};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveGroupRequest {
    pub ns: Namespace,
    pub group: GroupId,
    pub target_ns: Namespace,
    pub merge: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveNsRequest {
    pub ns: Namespace,
    pub target_ns: Namespace,
    pub max_depth: Option<usize>,
    pub delete_source: bool,
    pub merge: bool,
}
