//! The command-line front end: parses arguments, runs a subcommand, maps errors to exit codes.

pub mod args;
pub mod context;
pub mod demo;
pub mod exit;
pub mod group_args;
pub mod history;
pub mod interrupt;
pub mod ls;
pub mod moves;
pub mod plan_text;
pub mod progress;
pub mod resume;
pub mod undo;
pub mod verify;
pub mod wait;

use std::io::Write;

use clap::{CommandFactory, Parser};

use crate::tree::{Datastore, Locator, Namespace};
use args::{Cli, Command, GlobalArgs, LsArgs};
use exit::{Exit, Failure};

/// Runs the CLI and returns the process exit code.
pub fn run() -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version on stdout (exit 0) and usage errors on stderr (exit 2).
            let _ = e.print();
            if !e.use_stderr() {
                return 0;
            }
            if wants_json(&argv) {
                print_json(&usage_error_json(&argv, &e));
            }
            return Exit::Usage as i32;
        }
    };
    if let Err(f) = absolute_dirs(&mut cli.global) {
        eprintln!("error: {}", f.message);
        return f.exit as i32;
    }
    match dispatch(cli) {
        Ok(exit) => exit as i32,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.exit as i32
        }
    }
}

/// Whether the command line asked for JSON (`--json`, `--json-progress`): then even a usage
/// error is answered with one JSON object on stdout, for scripts that parse every outcome.
fn wants_json(argv: &[std::ffi::OsString]) -> bool {
    argv.iter()
        .skip(1)
        .any(|a| a == "--json" || a == "--json-progress")
}

/// The `--json` object of a usage error: the subcommand named on the command line (if any)
/// as `op`, nothing moved, and clap's message on one line (what comes before its usage and
/// tip paragraphs, without the `error: ` prefix).
fn usage_error_json(argv: &[std::ffi::OsString], e: &clap::Error) -> serde_json::Value {
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let op = argv
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| names.iter().any(|n| n == a));
    let rendered = e.to_string();
    let message = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    serde_json::json!({
        "ok": false,
        "op": op,
        "dry_run": argv.iter().any(|a| a == "--dry-run"),
        "moved": [],
        "failed": [],
        "error": message,
    })
}

/// Relative `--path`, `--config-dir`, `--lock-dir` and `--state-dir` are taken from the
/// current directory, once, before anything uses them (the lock and ownership code works on
/// absolute paths only). Symlinks are not resolved here: the datastore checks still see them.
fn absolute_dirs(global: &mut GlobalArgs) -> Result<(), Failure> {
    let abs = |p: &std::path::Path| {
        if p.as_os_str().is_empty() {
            // Left to the checks that name what is wrong with an empty path.
            return Ok(p.to_path_buf());
        }
        std::path::absolute(p).map_err(|e| {
            Failure::usage(format!(
                "cannot make {} absolute ({e}); give an absolute path",
                p.display()
            ))
        })
    };
    if let Some(p) = &global.path {
        global.path = Some(abs(p)?);
    }
    if let Some(p) = &global.config_dir {
        global.config_dir = Some(abs(p)?);
    }
    global.lock_dir = abs(&global.lock_dir)?;
    global.state_dir = abs(&global.state_dir)?;
    Ok(())
}

fn dispatch(cli: Cli) -> Result<Exit, Failure> {
    match cli.command {
        None | Some(Command::Tui) => run_tui(&cli.global),
        Some(Command::Demo(args)) => demo::run_demo(&cli.global, &args),
        Some(Command::Verify(args)) => verify::run_verify(&cli.global, &args),
        Some(Command::Ls(args)) => run_ls(&cli.global, &args),
        Some(Command::MoveGroup(args)) => moves::run_move_group(&cli.global, &args),
        Some(Command::MoveNs(args)) => moves::run_move_ns(&cli.global, &args),
        Some(Command::Resume(args)) => resume::run_resume(&cli.global, &args),
        Some(Command::History(args)) => history::run_history(&cli.global, args.json),
        Some(Command::Undo(args)) => undo::run_undo(&cli.global, &args),
    }
}

pub fn locator(global: &GlobalArgs) -> Locator {
    Locator {
        path: global.path.clone(),
        store: global.store.clone(),
        config_dir: global.config_dir.clone(),
    }
}

pub fn open_datastore(global: &GlobalArgs) -> Result<Datastore, Failure> {
    locator(global).locate().map_err(|e| match e {
        crate::tree::datastore::LocateError::NoneGiven => Failure::usage(e),
        other => Failure::refused(other),
    })
}

pub fn parse_ns(s: &str) -> Result<Namespace, Failure> {
    Namespace::parse(s).map_err(Failure::refused)
}

pub fn run_tui(global: &GlobalArgs) -> Result<Exit, Failure> {
    // S3 datastores get their bucket backend here, outside any async context.
    let ctx = context::open_context(global)?;
    crate::ui::run(ctx, global.no_mouse).map_err(|e| Failure::refused(format!("{e:#}")))?;
    Ok(Exit::Done)
}

fn run_ls(global: &GlobalArgs, args: &LsArgs) -> Result<Exit, Failure> {
    let result = open_datastore(global).and_then(|ds| {
        let req = ls::LsRequest {
            ns: parse_ns(&args.ns)?,
            recursive: args.recursive,
            snapshots: args.snapshots,
        };
        ls::list(&ds, &context::pbs_version(global)?, &req)
    });
    let out = match result {
        Ok(out) => out,
        Err(f) if args.json => {
            print_json(
                &serde_json::json!({"ok": false, "op": "ls", "pbs_version": context::pbs_version(global).ok().as_ref().and_then(|v| v.version()), "namespaces": [], "error": f.message}),
            );
            return Err(f);
        }
        Err(f) => return Err(f),
    };
    if args.json {
        print_json(&out);
    } else {
        for w in &out.warnings {
            eprintln!("warning: {w}");
        }
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (e.g. `| head`) is not an error worth reporting.
        let _ = stdout.write_all(ls::render_text(&out).as_bytes());
    }
    Ok(Exit::Done)
}

/// A command's human result on stdout (diagnostics go to stderr); a closed pipe (`| head`)
/// is no reason to fail or panic.
pub fn print_out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

pub fn print_json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string(value) {
        // A closed pipe (`| head`) after the progress events is no reason to panic.
        Ok(s) => drop(
            std::io::stdout()
                .lock()
                .write_all(format!("{s}\n").as_bytes()),
        ),
        Err(e) => eprintln!("error: cannot encode JSON: {e}"),
    }
}
