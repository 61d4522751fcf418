//! pbs-mover: browse and move backup groups and namespaces inside a PBS datastore.

pub mod cli;
pub mod demo;
pub mod ops;
pub mod tree;
pub mod ui;
