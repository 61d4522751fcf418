//! `demo` (optionally served from an embedded S3 server).

#[cfg(feature = "s3-server")]
use std::io::Write;
#[cfg(feature = "s3-server")]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
#[cfg(feature = "s3-server")]
use std::sync::Arc;

use super::args::{DEFAULT_LOCK_DIR, DEFAULT_STATE_DIR, DemoArgs, GlobalArgs};
use super::exit::{Exit, Failure};
#[cfg(feature = "s3-server")]
use super::open_datastore;
use super::run_tui;
use crate::demo::{DemoSpec, create_demo};
#[cfg(feature = "s3-server")]
use crate::ops::context::MoveContext;
#[cfg(feature = "s3-server")]
use crate::tree::s3::{EmbeddedS3, S3Backend, S3Target, serve_demo};

pub fn run_demo(global: &GlobalArgs, args: &DemoArgs) -> Result<Exit, Failure> {
    #[cfg(not(feature = "s3-server"))]
    if args.s3 {
        return Err(Failure::refused(
            "built without the embedded S3 server (feature s3-server)",
        ));
    }
    // Before anything is created: a normal user's demo owns its files itself (it cannot
    // hand them to backup:backup, and PBS never sees this datastore); root's demo creates
    // what it always did, owned as PBS would.
    if !rustix::process::geteuid().is_root() {
        crate::ops::safety::ownership::own_as_invoker();
    }
    let (dir, temp) = demo_dir(args)?;
    let spec = DemoSpec {
        groups: args.groups,
        // 16 prefix dirs, not 65,536: the demo starts (and is removed) in a moment.
        full_chunk_store: false,
    };
    let summary = create_demo(&dir, spec).map_err(|e| {
        Failure::refused(format!(
            "cannot create demo datastore in {}: {e}",
            dir.display()
        ))
    })?;
    eprintln!(
        "demo datastore at {}: {} namespaces, {} groups, {} snapshots",
        dir.display(),
        summary.namespaces,
        summary.groups,
        summary.snapshots
    );
    let mut g = global.clone();
    g.path = Some(dir.clone());
    g.store = None;
    demo_private_dirs(&mut g, &dir)?;
    #[cfg(feature = "s3-server")]
    if args.s3 {
        return run_demo_s3(&g, &dir, args.no_tui);
    }
    if args.no_tui {
        println!("{}", dir.display());
        // Keep it: the user asked for a datastore to use afterwards.
        if let Some(t) = temp {
            let _ = t.keep();
        }
        return Ok(Exit::Done);
    }
    run_tui(&g)
}

/// Where the demo keeps what it would otherwise put on the host: inside its own dir, so
/// that it never touches the real /run or /var/lib and works for a user who may not write
/// there. Hidden at the datastore's top, where PBS and pbs-mover look only for `ns/` and
/// the type dirs.
const DEMO_PRIVATE: &str = ".pbs-mover-demo";

/// Points the default lock dir (and with it `active-operations/` and `old-locking`, which
/// live beside it) and the default state dir into the demo dir; a `--lock-dir` or
/// `--state-dir` the user gave (or its env variable) is kept.
fn demo_private_dirs(g: &mut GlobalArgs, dir: &Path) -> Result<(), Failure> {
    let private = dir.join(DEMO_PRIVATE);
    let create = |path: &Path| {
        // Created now (0755) so the lock dir is never "a missing dir in world-writable /tmp".
        crate::ops::safety::ownership::create_dir_all_owned(path, dir)
            .map_err(|e| Failure::refused(format!("cannot create {}: {e}", path.display())))
    };
    if g.lock_dir.as_path() == Path::new(DEFAULT_LOCK_DIR) {
        g.lock_dir = private.join("locks");
        create(&g.lock_dir)?;
    }
    if g.state_dir.as_path() == Path::new(DEFAULT_STATE_DIR) {
        g.state_dir = private.join("state");
        create(&g.state_dir)?;
    }
    Ok(())
}

/// Serves the demo datastore from an embedded S3 server on 127.0.0.1 and opens the TUI on
/// the bucket-backed datastore (or, with `--no-tui`, serves until interrupted).
#[cfg(feature = "s3-server")]
fn run_demo_s3(global: &GlobalArgs, dir: &Path, no_tui: bool) -> Result<Exit, Failure> {
    let ds = open_datastore(global)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::refused(format!("cannot start the async runtime: {e}")))?;
    let root = dir.with_extension("s3");
    let (server, target): (EmbeddedS3, S3Target) = rt
        .block_on(serve_demo(&ds.base, &ds.name, &root))
        .map_err(Failure::refused)?;
    let creds = write_credentials(dir, &target)?;
    eprintln!(
        "S3: serving bucket '{}' at {} (store prefix '{}/'); credentials in {}",
        target.bucket,
        target.url,
        ds.name,
        creds.display()
    );
    if no_tui {
        eprintln!(
            "try: . {} && pbs-mover --path {} --s3-endpoint {} --s3-bucket {} --s3-path-style ls; Ctrl-C stops the server",
            creds.display(),
            ds.base.display(),
            target.url,
            target.bucket
        );
        println!("{}", dir.display());
        rt.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        eprintln!("stopping the demo S3 server");
        rt.block_on(server.shutdown());
        return Ok(Exit::Done);
    }
    // The backend owns its own runtime; build it outside any async context.
    let backend = S3Backend::connect(&target, &ds.name, &super::context::backend_options())
        .map_err(Failure::refused)?;
    let ctx = MoveContext::with_backend(ds, &global.lock_dir, Arc::new(backend))
        .with_pbs(super::context::pbs_version(global)?)
        .with_journal_dir(&global.state_dir);
    let result =
        crate::ui::run(ctx, global.no_mouse).map_err(|e| Failure::refused(format!("{e:#}")));
    rt.block_on(server.shutdown());
    result.map(|()| Exit::Done)
}

/// The demo's throwaway credentials go to a 0600 file, never to the terminal.
#[cfg(feature = "s3-server")]
fn write_credentials(dir: &Path, target: &S3Target) -> Result<PathBuf, Failure> {
    let path = dir.with_extension("s3-credentials.env");
    let text = format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\n",
        target.access_key,
        target.secret_key.expose()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| Failure::refused(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn demo_dir(args: &DemoArgs) -> Result<(PathBuf, Option<tempfile::TempDir>), Failure> {
    match &args.dir {
        Some(dir) => {
            let non_empty = dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true);
            if non_empty {
                return Err(Failure::refused(format!(
                    "{} exists and is not empty: pass an empty or new --dir",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::refused(format!("cannot create {}: {e}", dir.display())))?;
            Ok((dir.clone(), None))
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("pbs-mover-demo-")
                .tempdir()
                .map_err(|e| Failure::refused(format!("cannot create a temporary dir: {e}")))?;
            let dir = t.path().join("demo");
            std::fs::create_dir(&dir)
                .map_err(|e| Failure::refused(format!("cannot create {}: {e}", dir.display())))?;
            Ok((dir, Some(t)))
        }
    }
}

/// `verify`: the local cache against the bucket. Exit 0 when they agree, 1 on drift.
#[cfg(test)]
mod tests {
    #[test]
    fn the_cli_default_lock_dir_is_pbs_lock_dir() {
        assert_eq!(
            super::DEFAULT_LOCK_DIR,
            crate::ops::locks::paths::DEFAULT_LOCK_DIR
        );
    }
}
