//! Side-by-side benchmarks (not tests): scanning and filesystem moves against the physical
//! floor measured in the same run on the same tree.
//!
//! `cargo bench --bench scale` (env `BENCH_GROUPS`, default 10000; `BENCH_SNAPSHOTS`,
//! default 10000; `BENCH_NS_GROUPS`, default 1000). Prints a Markdown table.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pbs_mover::demo::{DemoSpec, create_demo};

const BIN: &str = env!("CARGO_BIN_EXE_pbs-mover");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Row {
    case: String,
    ours: Duration,
    baseline_name: String,
    baseline: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Median wall time of `runs` runs of a command, stdout discarded.
fn time_cmd(runs: usize, mut make: impl FnMut() -> Command) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let mut c = make();
            c.stdout(Stdio::null()).stderr(Stdio::null());
            let start = Instant::now();
            let status = c.status().expect("spawn");
            let t = start.elapsed();
            assert!(status.success(), "{c:?} failed");
            t
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn drop_caches() -> bool {
    // Only root can; report "n/a" otherwise.
    Command::new("sync").status().is_ok() && fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

fn ours(base: &Path, locks: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--path")
        .arg(base)
        .arg("--lock-dir")
        .arg(locks)
        .args(args);
    c
}

fn find(base: &Path) -> Command {
    let mut c = Command::new("find");
    c.arg(base).args(["-printf", "%p %s\n"]);
    c
}

/// Peak RSS of one child run, in MiB (RUSAGE_CHILDREN of a fresh helper process).
fn peak_rss_mib(base: &Path, locks: &Path) -> f64 {
    let script = format!(
        "{BIN} --path {} --lock-dir {} ls --recursive --json >/dev/null; grep -h VmHWM /proc/self/status >/dev/null",
        base.display(),
        locks.display()
    );
    // `/usr/bin/time -f %M` where present; otherwise rusage of this process's children.
    if let Ok(out) = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(BIN)
        .arg("--path")
        .arg(base)
        .arg("--lock-dir")
        .arg(locks)
        .args(["ls", "--recursive", "--json"])
        .stdout(Stdio::null())
        .output()
        && let Some(kb) = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<f64>().ok())
    {
        return kb / 1024.0;
    }
    let _ = Command::new("sh").args(["-c", &script]).status();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("rusage");
    usage.max_rss() as f64 / 1024.0
}

fn write_group(dir: &Path, snapshots: usize) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("owner"), "root@pam\n").unwrap();
    for i in 0..snapshots {
        let t = pbs_mover::tree::SnapshotTime::from_epoch(1_600_000_000 + i as u64 * 3600);
        let s = dir.join(t.as_str());
        fs::create_dir(&s).unwrap();
        fs::write(s.join("drive-scsi0.img.fidx"), b"fidx").unwrap();
        fs::write(s.join("qemu-server.conf.blob"), b"blob").unwrap();
        fs::write(s.join("index.json.blob"), b"manifest").unwrap();
    }
}

/// A bare loop of rename(2) over the snapshot dirs of `src` into `dst` (the floor).
fn rename_loop(src: &Path, dst: &Path) -> Duration {
    let start = Instant::now();
    fs::create_dir_all(dst).unwrap();
    let mut names: Vec<PathBuf> = fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        fs::rename(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
    start.elapsed()
}

fn bench_scan(root: &Path, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let groups = env_usize("BENCH_GROUPS", 10_000);
    let base = root.join("scan-store");
    fs::create_dir(&base).unwrap();
    let t = Instant::now();
    let s = create_demo(
        &base,
        DemoSpec {
            groups,
            full_chunk_store: false,
        },
    )
    .unwrap();
    notes.push(format!(
        "scan datastore: {} namespaces, {} groups, {} snapshots, {} files (generated in {})",
        s.namespaces,
        s.groups,
        s.snapshots,
        s.files,
        ms(t.elapsed())
    ));
    let locks = root.join("locks");
    let warm_ours = time_cmd(5, || ours(&base, &locks, &["ls", "--recursive", "--json"]));
    let warm_find = time_cmd(5, || find(&base));
    rows.push(Row {
        case: format!(
            "ls --recursive --json, {} groups / {} snapshots, warm cache",
            s.groups, s.snapshots
        ),
        ours: warm_ours,
        baseline_name: "find -printf".into(),
        baseline: warm_find,
    });
    if drop_caches() {
        let cold_ours = time_cmd(1, || ours(&base, &locks, &["ls", "--recursive", "--json"]));
        drop_caches();
        let cold_find = time_cmd(1, || find(&base));
        rows.push(Row {
            case: "ls --recursive --json, cold cache (drop_caches)".into(),
            ours: cold_ours,
            baseline_name: "find -printf".into(),
            baseline: cold_find,
        });
    } else {
        notes.push("cold-cache scan skipped: /proc/sys/vm/drop_caches not writable".into());
    }
    notes.push(format!(
        "peak RSS of ls --recursive --json: {:.1} MiB",
        peak_rss_mib(&base, &locks)
    ));
}

fn bench_move_group(root: &Path, rows: &mut Vec<Row>) {
    let n = env_usize("BENCH_SNAPSHOTS", 10_000);
    let base = root.join("mg-store");
    for ns in ["a", "b", "c", "d", "e"] {
        fs::create_dir_all(base.join("ns").join(ns)).unwrap();
    }
    write_group(&base.join("ns/a/vm/100"), n);
    write_group(&base.join("ns/c/vm/100"), n);
    write_group(&base.join("ns/e/vm/100"), n);
    let locks = root.join("mg-locks");
    let ours_t = time_cmd(1, || {
        ours(
            &base,
            &locks,
            &[
                "move-group",
                "--ns",
                "a",
                "--group",
                "vm/100",
                "--target-ns",
                "b",
            ],
        )
    });
    let floor = rename_loop(&base.join("ns/c/vm/100"), &base.join("ns/d/vm/100"));
    rows.push(Row {
        case: format!("move-group, {n} snapshots"),
        ours: ours_t,
        baseline_name: "rename(2) loop".into(),
        baseline: floor,
    });
    fs::create_dir_all(base.join("ns/d/ct")).unwrap();
    let mv = time_cmd(1, || {
        let mut c = Command::new("mv");
        c.arg(base.join("ns/e/vm/100"))
            .arg(base.join("ns/d/ct/100"));
        c
    });
    rows.push(Row {
        case: format!("move-group, {n} snapshots"),
        ours: ours_t,
        baseline_name: "mv of the group dir".into(),
        baseline: mv,
    });
}

fn bench_move_ns(root: &Path, rows: &mut Vec<Row>) {
    let groups = env_usize("BENCH_NS_GROUPS", 1000);
    let base = root.join("mn-store");
    for ns in ["src", "floor", "dst"] {
        fs::create_dir_all(base.join("ns").join(ns)).unwrap();
    }
    for g in 0..groups {
        write_group(&base.join(format!("ns/src/vm/{g}")), 5);
        write_group(&base.join(format!("ns/floor/vm/{g}")), 5);
    }
    let locks = root.join("mn-locks");
    let ours_t = time_cmd(1, || {
        ours(
            &base,
            &locks,
            &["move-ns", "--ns", "src", "--target-ns", "moved"],
        )
    });
    let start = Instant::now();
    for g in 0..groups {
        rename_loop(
            &base.join(format!("ns/floor/vm/{g}")),
            &base.join(format!("ns/dst/vm/{g}")),
        );
    }
    rows.push(Row {
        case: format!("move-ns, {groups} groups x 5 snapshots"),
        ours: ours_t,
        baseline_name: "rename(2) loop".into(),
        baseline: start.elapsed(),
    });
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("pbs-mover-bench-")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .unwrap();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    bench_scan(root.path(), &mut rows, &mut notes);
    bench_move_group(root.path(), &mut rows);
    bench_move_ns(root.path(), &mut rows);
    println!("| case | ours | baseline | baseline time | ratio |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {:.2}x |",
            r.case,
            ms(r.ours),
            r.baseline_name,
            ms(r.baseline),
            r.ours.as_secs_f64() / r.baseline.as_secs_f64().max(1e-9)
        );
    }
    for n in notes {
        println!("- {n}");
    }
}
