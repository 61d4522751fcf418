//! pbs-mover's integration tests, one binary (ripgrep's `tests/tests.rs` pattern): every
//! suite is a module here, sharing `support/` (datastores, the binary, lock holders, the S3
//! server, the crash harness, the TUI fixtures, the pty). Suites that need the embedded S3
//! server are built with the `s3-server` feature (on by default).

mod support;

mod any_user;
mod bad_input_fs;
mod bad_input_matrix;
mod cli_answers;
mod cli_progress;
mod crash_fs;
#[cfg(feature = "s3-server")]
mod crash_s3;
#[cfg(feature = "s3-server")]
mod demo_s3;
mod fault_fs;
#[cfg(feature = "s3-server")]
mod fault_s3;
mod fuzz_parsers;
mod host_paths;
mod locks;
mod manifest;
mod move_fs;
mod move_groups_batch;
mod move_groups_cli;
#[cfg(feature = "s3-server")]
mod move_s3;
mod pbs_compat;
mod resume_plan;
#[cfg(feature = "s3-server")]
mod s3_backend;
mod scan;
#[cfg(feature = "s3-server")]
mod security;
mod tui_facts;
mod tui_flow;
mod tui_moves;
mod tui_pty;
mod tui_pty_flow;
mod tui_pty_hangup;
mod tui_pty_moves;
mod tui_pty_resume;
mod tui_pty_search;
mod tui_render;
mod tui_search;
mod tui_staged;
mod undo;
mod verify_fs;
mod wait;
