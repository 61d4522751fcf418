//! Keys: every [`action::Action`] with its metadata, the [`context::Context`]s keys are
//! pressed in, the keymap (`assets/keymap.toml` plus the user's patch) and the help text
//! built from both. A binding lives in the keymap file and here, nowhere else.

pub mod action;
pub mod context;
pub mod help;
pub mod keymap;
