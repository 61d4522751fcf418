//! Man pages (clap_mangen) and shell completions (clap_complete) for the Debian package,
//! generated from the one CLI definition: src/cli/args.rs, compiled here as a module of its own.
//!
//! They are written to `<target dir>/<profile>/assets/` (`man/*.1.gz`, `completions/*`), where
//! `cargo deb` finds them through its `target/release/` asset prefix. Cargo tells a build script
//! its OUT_DIR only, `<target dir>/<profile>/build/<package>-<hash>/out`: the profile dir is the
//! parent of OUT_DIR's nearest ancestor named `build`. Man pages are gzipped here (`gzip -9n`, as
//! Debian wants): cargo-deb compresses man pages from the source tree, not built ones.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

#[allow(dead_code)]
#[path = "src/cli/args.rs"]
mod args;

const BIN: &str = "pbs-mover";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/cli/args.rs");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(profile_dir) = profile_dir(&out_dir) else {
        println!(
            "cargo::warning=no man pages or completions: OUT_DIR {} is not inside <target dir>/<profile>/build/",
            out_dir.display()
        );
        return;
    };
    let assets = profile_dir.join("assets");
    write_man_pages(&assets.join("man"));
    write_completions(&assets.join("completions"));
}

fn profile_dir(out_dir: &Path) -> Option<PathBuf> {
    out_dir
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

/// `pbs-mover.1.gz` and `pbs-mover-<subcommand>.1.gz` for every visible subcommand, in a dir
/// emptied first, so a removed subcommand leaves no stale page behind.
fn write_man_pages(dir: &Path) {
    if dir.exists() {
        fs::remove_dir_all(dir).expect("remove old man pages");
    }
    fs::create_dir_all(dir).expect("create man page dir");
    let mut cmd = args::Cli::command().disable_help_subcommand(true);
    // Propagates global options into the subcommands and names them `pbs-mover-<sub>`.
    cmd.build();
    write_man_page(&cmd, dir);
}

fn write_man_page(cmd: &clap::Command, dir: &Path) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_man_page(sub, dir);
    }
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("{BIN} {}", env!("CARGO_PKG_VERSION")))
        .manual("pbs-mover manual");
    let mut roff = Vec::new();
    man.render(&mut roff).expect("render man page");
    let path = dir.join(format!("{}.gz", man.get_filename()));
    // No file name and mtime 0 in the header: the same page gives the same bytes.
    let mut gz = flate2::GzBuilder::new().write(
        fs::File::create(&path).expect("create man page"),
        flate2::Compression::best(),
    );
    gz.write_all(&roff).expect("write man page");
    gz.finish().expect("finish man page");
}

/// `pbs-mover.bash`, `_pbs-mover` (zsh) and `pbs-mover.fish`.
fn write_completions(dir: &Path) {
    fs::create_dir_all(dir).expect("create completion dir");
    let mut cmd = args::Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, BIN, dir).expect("write completion");
    }
}
