//! pbs-mover: browse and move backup groups and namespaces inside a PBS datastore.

pub mod ops;
pub mod tree;
