//! The panes that are always on screen: the tree, the details of the selected node and the
//! status log.

pub mod details;
pub mod status;
pub mod tree;
