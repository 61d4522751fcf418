//! Side-by-side benchmarks (not tests): scanning and filesystem moves against the physical
//! floor measured in the same run on the same tree.
//!
//! `cargo bench --bench scale` (env `BENCH_GROUPS`, default 10000; `BENCH_SNAPSHOTS`,
//! default 10000; `BENCH_NS_GROUPS`, default 1000; `BENCH_SCALE_SNAPSHOTS`, default
//! `1000,10000,100000`; `BENCH_CASES`, default `scan,tui,move,scaling,search`; `BENCH_MOVE_RUNS`,
//! rounds per FS move case, default 3, median reported; `BENCH_LOCK_DIR`, where the lock
//! dirs go, e.g. a tmpfs like PBS's /run; `BENCH_MOVE`, which move cases, default `group,ns`;
//! `BENCH_BEFORE_BIN`, a pbs-mover binary (main before a change) whose move-group and move-ns
//! rows run interleaved with ours as "before"). Prints Markdown
//! table rows `| case | ours | baseline | ratio |` (bench/run.sh adds machine and date) and
//! notes. Ours and the baseline always run interleaved in the same process on the same tree.
//!
//! Cases: `scan` (ls vs find, warm and cold; the scanner's before/after: parallel group
//! reads and the openat2 fast path against the same binary with `PBS_MOVER_SCAN_THREADS=1`
//! and `PBS_MOVER_SCAN_NO_OPENAT2=1`), `tui` (first frame, fully loaded, idle CPU and
//! bytes), `move` (move-group, move-ns), `scaling` (scan and move-group, whole-group and
//! snapshot by snapshot, at every size of `BENCH_SCALE_SNAPSHOTS`, each cell with its µs per
//! snapshot; `scaling-fs`: the move rows only), `search` (the search index:
//! build against `find`, queries against the old linear filter, the TUI's keystroke-to-frame
//! time for a group deep down, peak RSS).

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
    /// Snapshots handled: the cells then also show µs per snapshot (scaling rows), so
    /// linearity is visible down a column. Kept inside the cells: bench/run.sh owns the
    /// table's columns.
    per_snapshot: Option<usize>,
}

impl Row {
    fn cell(&self, d: Duration) -> String {
        match self.per_snapshot {
            Some(n) => format!(
                "{} ({:.2} µs/snapshot)",
                ms(d),
                d.as_secs_f64() * 1e6 / n.max(1) as f64
            ),
            None => ms(d),
        }
    }

    fn print(&self) {
        println!(
            "| {} | {} | {}: {} | {:.2}x |",
            self.case,
            self.cell(self.ours),
            self.baseline_name,
            self.cell(self.baseline),
            self.ours.as_secs_f64() / self.baseline.as_secs_f64().max(1e-9)
        );
    }
}

/// Rows go out as soon as they are measured, so an interrupted run keeps what it measured.
#[derive(Default)]
struct Rows(Vec<Row>);

impl Rows {
    fn push(&mut self, row: Row) {
        row.print();
        self.0.push(row);
    }
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

/// The PBS version the moves are run for (`BENCH_PBS_VERSION`, default 4.2.3: lock files
/// only); the old+new-locks row sets 3.2.4 itself.
fn pbs_version() -> String {
    std::env::var("BENCH_PBS_VERSION").unwrap_or_else(|_| "4.2.3".into())
}

fn ours(base: &Path, locks: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("PBS_MOVER_SCAN_THREADS")
        .env_remove("PBS_MOVER_SCAN_NO_OPENAT2");
    // Beside the datastore (the same disk a real /var/lib/pbs-mover would be on), never
    // the machine's own state dir.
    c.env("PBS_MOVER_STATE_DIR", base.with_file_name("state"))
        .env("PBS_MOVER_PBS_VERSION", pbs_version());
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

/// What makes `base` a datastore root: `.chunks/` and the chunk store's `.lock`.
fn chunk_store(base: &Path) {
    fs::create_dir_all(base.join(".chunks")).unwrap();
    fs::write(base.join(".lock"), b"").unwrap();
}

fn write_group(dir: &Path, snapshots: usize) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("owner"), "root@pam\n").unwrap();
    // Owned as PBS writes them (the move treats other groups as foreign; see whole_group.rs).
    if let Some((uid, gid)) = pbs_mover::ops::safety::ownership::backup_ids() {
        std::os::unix::fs::lchown(dir, Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::lchown(dir.join("owner"), Some(uid), Some(gid)).unwrap();
    }
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

/// Median of interleaved runs: ours, baseline, ours, baseline, … (`prep` runs before each).
fn interleaved(
    runs: usize,
    prep: &mut dyn FnMut(),
    ours: &mut dyn FnMut() -> Command,
    base: &mut dyn FnMut() -> Command,
) -> (Duration, Duration) {
    let t = interleaved_n(runs, prep, &mut [ours, base]);
    (t[0], t[1])
}

/// Median per command of `runs` rounds, each round running every command once in turn.
fn interleaved_n(
    runs: usize,
    prep: &mut dyn FnMut(),
    cmds: &mut [&mut dyn FnMut() -> Command],
) -> Vec<Duration> {
    let mut times = vec![Vec::new(); cmds.len()];
    for _ in 0..runs {
        for (cmd, t) in cmds.iter_mut().zip(&mut times) {
            prep();
            t.push(time_cmd(1, &mut **cmd));
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// `ours` with the scanner's before/after switches: `threads` caps the threads per
/// namespace (1: sequential), `walk` disables the openat2 fast path (lstat per component).
fn ours_scan(base: &Path, locks: &Path, threads: Option<usize>, walk: bool) -> Command {
    let mut c = ours(base, locks, &["ls", "--recursive", "--json"]);
    if let Some(n) = threads {
        c.env("PBS_MOVER_SCAN_THREADS", n.to_string());
    }
    if walk {
        c.env("PBS_MOVER_SCAN_NO_OPENAT2", "1");
    }
    c
}

/// Scan before/after in one run: today (parallel groups + openat2) against the same
/// binary with the sequential component walk of before, and each change on its own.
fn bench_scan_variants(
    base: &Path,
    locks: &Path,
    rows: &mut Rows,
    what: &str,
    runs: usize,
    prep: &mut dyn FnMut(),
) {
    let t = interleaved_n(
        runs,
        prep,
        &mut [
            &mut || ours_scan(base, locks, None, false),
            &mut || ours_scan(base, locks, Some(1), false),
            &mut || ours_scan(base, locks, Some(1), true),
        ],
    );
    let (today, seq_openat2, before) = (t[0], t[1], t[2]);
    for (case, ours, baseline_name, baseline) in [
        (
            "parallel groups + openat2 (today)",
            today,
            "sequential + lstat walk (before, PBS_MOVER_SCAN_THREADS=1 PBS_MOVER_SCAN_NO_OPENAT2=1)",
            before,
        ),
        (
            "sequential + openat2",
            seq_openat2,
            "sequential + lstat walk",
            before,
        ),
        (
            "parallel groups + openat2",
            today,
            "sequential + openat2 (PBS_MOVER_SCAN_THREADS=1)",
            seq_openat2,
        ),
    ] {
        rows.push(Row {
            case: format!("scan before/after, {what}: {case}"),
            ours,
            baseline_name: baseline_name.into(),
            baseline,
            per_snapshot: None,
        });
    }
}

fn demo_store(root: &Path, name: &str, groups: usize, notes: &mut Vec<String>) -> (PathBuf, usize) {
    let base = root.join(name);
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
        "{name}: {} namespaces, {} groups, {} snapshots, {} files (generated in {})",
        s.namespaces,
        s.groups,
        s.snapshots,
        s.files,
        ms(t.elapsed())
    ));
    (base, s.snapshots)
}

fn bench_scan(root: &Path, rows: &mut Rows, notes: &mut Vec<String>, cases: &str) {
    let groups = env_usize("BENCH_GROUPS", 10_000);
    let (base, snapshots) = demo_store(root, "scan-store", groups, notes);
    let locks = root.join("locks");
    let ls = ["ls", "--recursive", "--json"];
    if cases.contains("scan") {
        let (warm_ours, warm_find) =
            interleaved(5, &mut || {}, &mut || ours(&base, &locks, &ls), &mut || {
                find(&base)
            });
        rows.push(Row {
            case: format!(
                "scan: ls --recursive --json, {groups} groups / {snapshots} snapshots, warm cache"
            ),
            ours: warm_ours,
            baseline_name: "find -printf".into(),
            baseline: warm_find,
            per_snapshot: None,
        });
        if drop_caches() {
            let (cold_ours, cold_find) = interleaved(
                3,
                &mut || {
                    drop_caches();
                },
                &mut || ours(&base, &locks, &ls),
                &mut || find(&base),
            );
            rows.push(Row {
                case: "scan: same, cold cache (drop_caches before each run)".to_string(),
                ours: cold_ours,
                baseline_name: "find -printf".into(),
                baseline: cold_find,
                per_snapshot: None,
            });
        } else {
            notes.push("cold-cache scan skipped: /proc/sys/vm/drop_caches not writable".into());
        }
        let size = format!("{groups} groups / {snapshots} snapshots");
        bench_scan_variants(&base, &locks, rows, &format!("{size}, warm"), 5, &mut || {});
        if drop_caches() {
            bench_scan_variants(
                &base,
                &locks,
                rows,
                &format!("{size}, cold"),
                3,
                &mut || {
                    drop_caches();
                },
            );
        }
        notes.push(format!(
            "peak RSS of ls --recursive --json ({snapshots} snapshots): {:.1} MiB",
            peak_rss_mib(&base, &locks)
        ));
    }
    if cases.contains("tui") {
        bench_tui(&base, &locks, rows, notes, snapshots);
    }
}

/// The TUI in a pty (`script`), with `PBS_MOVER_EXIT_AFTER_FIRST_FRAME=hook`: wall time from
/// spawn to exit, and the time the TUI itself reports.
fn tui_run(base: &Path, locks: &Path, hook: &str) -> Option<(Duration, f64)> {
    tui_run_with(base, locks, hook, "")
}

/// [`tui_run`] with `PBS_MOVER_FRAME_THROTTLE=throttle` (`""`: the default).
fn tui_run_with(base: &Path, locks: &Path, hook: &str, throttle: &str) -> Option<(Duration, f64)> {
    tui_run_bin(BIN, base, locks, hook, throttle)
}

/// [`tui_run_with`] with another binary (`BENCH_BEFORE_BIN`: main before a change).
fn tui_run_bin(
    bin: &str,
    base: &Path,
    locks: &Path,
    hook: &str,
    throttle: &str,
) -> Option<(Duration, f64)> {
    let cmd = format!(
        "{bin} --path '{}' --lock-dir '{}' tui",
        base.display(),
        locks.display()
    );
    let start = Instant::now();
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("PBS_MOVER_EXIT_AFTER_FIRST_FRAME", hook)
        .env("PBS_MOVER_FRAME_THROTTLE", throttle)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .output()
        .ok()?;
    let wall = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let reported = text
        .split(" after ")
        .nth(1)
        .and_then(|r| r.split(" ms").next())
        .and_then(|v| v.trim().parse::<f64>().ok())?;
    Some((wall, reported))
}

fn bench_tui(base: &Path, locks: &Path, rows: &mut Rows, notes: &mut Vec<String>, snaps: usize) {
    for (hook, what) in [("frame", "first frame"), ("loaded", "all scans done")] {
        let mut walls = Vec::new();
        let mut reported = Vec::new();
        for _ in 0..5 {
            if let Some((w, r)) = tui_run(base, locks, hook) {
                walls.push(w);
                reported.push(r);
            }
        }
        if walls.is_empty() {
            notes.push(format!("TUI {what}: could not run under script(1)"));
            continue;
        }
        walls.sort();
        reported.sort_by(f64::total_cmp);
        // Baseline: the same process start and teardown through script(1) without a TUI.
        let floor = time_cmd(5, || {
            let mut c = Command::new("script");
            c.args(["-qec", &format!("{BIN} --version"), "/dev/null"]);
            c
        });
        rows.push(Row {
            case: format!(
                "TUI time to {what} ({snaps} snapshots; pty via script, wall incl. exec; in-app {:.1} ms)",
                reported[reported.len() / 2]
            ),
            ours: walls[walls.len() / 2],
            baseline_name: "`pbs-mover --version` via script".into(),
            baseline: floor,
            per_snapshot: None,
        });
    }
    bench_tree_visible(base, locks, rows, notes, snaps);
    match tui_idle(base, locks) {
        Some((cpu, bytes, secs)) => notes.push(format!(
            "TUI idle ({secs} s after the scan finished, in a pty): {cpu:.2} % CPU, {bytes} bytes written to the terminal"
        )),
        None => notes.push("TUI idle: could not measure".into()),
    }
}

/// Time from start to the first frame that shows the root listing (in-app, median of 7
/// interleaved runs): throttling only bursts against the old throttle that made every
/// background change wait 100 ms after the previous frame (`PBS_MOVER_FRAME_THROTTLE=trailing`).
/// With `BENCH_BEFORE_BIN` (e.g. /work/baseline/pbs-mover, main before the staged root
/// listing), also ours against that binary, interleaved on the same store: the tree visible
/// (ours: the first part of the root; before: its whole listing), the root's whole listing
/// drawn (hook `listed`; before: `tree`) and every scan done (`loaded`).
fn bench_tree_visible(
    base: &Path,
    locks: &Path,
    rows: &mut Rows,
    notes: &mut Vec<String>,
    snaps: usize,
) {
    let (mut ours, mut old) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        ours.extend(tui_run_with(base, locks, "tree", "").map(|(_, r)| r));
        old.extend(tui_run_with(base, locks, "tree", "trailing").map(|(_, r)| r));
    }
    if ours.is_empty() || old.is_empty() {
        notes.push("TUI tree visible: could not run under script(1)".into());
        return;
    }
    rows.push(Row {
        case: format!("TUI time to tree visible ({snaps} snapshots; in-app, pty via script)"),
        ours: median_ms(ours),
        baseline_name: "old 100 ms trailing frame throttle".into(),
        baseline: median_ms(old),
        per_snapshot: None,
    });
    if let Ok(before) = std::env::var("BENCH_BEFORE_BIN") {
        bench_tree_before(&before, base, locks, rows, notes, snaps);
    }
}

fn median_ms(mut v: Vec<f64>) -> Duration {
    v.sort_by(f64::total_cmp);
    Duration::from_secs_f64(v[v.len() / 2] / 1000.0)
}

/// Ours against `before` (another build), 7 interleaved rounds of each stage, in-app times.
fn bench_tree_before(
    before: &str,
    base: &Path,
    locks: &Path,
    rows: &mut Rows,
    notes: &mut Vec<String>,
    snaps: usize,
) {
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_string();
    let stages = [
        ("tree", "tree", "tree visible"),
        ("listed", "tree", "root's whole listing drawn"),
        ("loaded", "loaded", "all scans done"),
    ];
    for (ours_hook, before_hook, what) in stages {
        let (mut ours, mut old) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            ours.extend(tui_run_with(base, locks, ours_hook, "").map(|(_, r)| r));
            old.extend(tui_run_bin(before, base, locks, before_hook, "").map(|(_, r)| r));
        }
        if ours.is_empty() || old.is_empty() {
            notes.push(format!("TUI {what} against {before}: could not run"));
            continue;
        }
        rows.push(Row {
            case: format!(
                "TUI time to {what} ({snaps} snapshots; in-app, pty via script; load {load})"
            ),
            ours: median_ms(ours),
            baseline_name: format!("before ({before})"),
            baseline: median_ms(old),
            per_snapshot: None,
        });
    }
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3; utime 14, stime 15 → indices 11, 12.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn child_pids(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Idle CPU % and terminal bytes over a quiet window after the TUI finished scanning.
fn tui_idle(base: &Path, locks: &Path) -> Option<(f64, u64, u64)> {
    let out_path = base.with_extension("tui-out");
    let cmd = format!(
        "{BIN} --path '{}' --lock-dir '{}' tui",
        base.display(),
        locks.display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd])
        .arg(&out_path)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    // Let the background scan finish.
    std::thread::sleep(Duration::from_secs(8));
    let tui = child_pids(child.id()).into_iter().next();
    let result = tui.and_then(|pid| {
        let secs = 5;
        let t0 = proc_cpu_ticks(pid)?;
        let b0 = fs::metadata(&out_path).ok()?.len();
        std::thread::sleep(Duration::from_secs(secs));
        let t1 = proc_cpu_ticks(pid)?;
        let b1 = fs::metadata(&out_path).ok()?.len();
        let hz = 100.0; // USER_HZ on Linux
        Some(((t1 - t0) as f64 / hz / secs as f64 * 100.0, b1 - b0, secs))
    });
    if let Some(pid) = tui {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// move-group of an `n`-snapshot group with our binary, then a rename(2) loop over an
/// identical group, then (`with_mv`) `mv` of a third identical group dir:
/// (ours, rename loop, mv or zero).
/// `sync`, then a short pause: dirty inodes written back before a timed run starts.
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_millis(500));
}

/// Timed rounds per FS move case (`BENCH_MOVE_RUNS`, default 3): each round builds fresh
/// trees, and the median of ours and of the rename loop is reported.
fn move_runs() -> usize {
    env_usize("BENCH_MOVE_RUNS", 3).max(1)
}

fn median(mut t: Vec<Duration>) -> Duration {
    t.sort();
    t.get(t.len() / 2).copied().unwrap_or_default()
}

/// PBS keeps its locks on tmpfs (/run); `BENCH_LOCK_DIR` puts ours on one as well.
fn lock_dir(root: &Path, name: &str) -> PathBuf {
    std::env::var_os("BENCH_LOCK_DIR")
        .map_or_else(|| root.to_path_buf(), PathBuf::from)
        .join(name)
}

/// One FS move-group case, medians over `move_runs()` rounds.
struct MoveGroupTimes {
    /// Ours, whole-group path (new target: one rename of the group dir).
    ours: Duration,
    floor: Duration,
    /// `mv` of the whole group dir (first round only), with `extras`.
    mv: Duration,
    /// Ours snapshot by snapshot (`PBS_MOVER_NO_GROUP_RENAME=1`): the path of a merge.
    per_snapshot: Duration,
    /// Ours for PBS 3.2.4 (its directory and manifest locks too), with `extras`.
    old_locks: Duration,
    /// `BENCH_BEFORE_BIN` (main before issue 18.2), whole-group and per-snapshot path, run
    /// in the same rounds on the same tree.
    before: Option<(Duration, Duration)>,
}

/// The binary of the "before" rows (`BENCH_BEFORE_BIN`, e.g. the release build of main
/// before a change), or `None`.
fn before_bin() -> Option<PathBuf> {
    std::env::var_os("BENCH_BEFORE_BIN")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
}

fn move_group_cmd(base: &Path, locks: &Path, from: &str, to: &str) -> Command {
    move_group_cmd_of(Path::new(BIN), base, locks, from, to)
}

/// [`move_group_cmd`] run by `bin` (ours or `BENCH_BEFORE_BIN`), same environment.
fn move_group_cmd_of(bin: &Path, base: &Path, locks: &Path, from: &str, to: &str) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("PBS_MOVER_SCAN_THREADS")
        .env_remove("PBS_MOVER_SCAN_NO_OPENAT2")
        .env_remove(pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV);
    c.env("PBS_MOVER_STATE_DIR", base.with_file_name("state"))
        .env("PBS_MOVER_PBS_VERSION", pbs_version());
    c.arg("--path").arg(base).arg("--lock-dir").arg(locks);
    c.args([
        "move-group",
        "--ns",
        from,
        "--group",
        "vm/100",
        "--target-ns",
        to,
    ]);
    c
}

/// The per-snapshot path (a merge's), forced on a new target.
fn per_snapshot(mut c: Command) -> Command {
    c.env(
        pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV,
        "1",
    );
    c
}

fn move_ns_cmd(base: &Path, locks: &Path, from: &str, to: &str) -> Command {
    ours(base, locks, &["move-ns", "--ns", from, "--target-ns", to])
}

fn move_group_case(root: &Path, n: usize, extras: bool) -> MoveGroupTimes {
    let before = before_bin();
    let (mut ours_t, mut floor_t, mut per_snap_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut old_locks_t, mut before_whole_t, mut before_per_t) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut mv = Duration::ZERO;
    for round in 0..move_runs() {
        let base = root.join(format!("mg-store-{n}"));
        chunk_store(&base);
        for ns in [
            "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m",
        ] {
            fs::create_dir_all(base.join("ns").join(ns)).unwrap();
        }
        let mut sources = vec!["a", "c", "f"];
        if extras {
            sources.push("h");
        }
        if before.is_some() {
            sources.extend(["j", "l"]);
        }
        for ns in sources {
            write_group(&base.join("ns").join(ns).join("vm/100"), n);
        }
        let with_mv = extras && round == 0;
        if with_mv {
            write_group(&base.join("ns/e/vm/100"), n);
        }
        let locks = lock_dir(root, &format!("mg-locks-{n}-{round}"));
        // Flush the freshly written trees first: otherwise the first timed run (ours) pays
        // for the writeback of every inode just created and the rename loop after it does not.
        // Then let them age past the pre-flight's settle time, as backups being moved have:
        // a snapshot dir changed seconds before a move is read twice (snapshot_listing.rs).
        settle();
        std::thread::sleep(pbs_mover::ops::safety::snapshot_listing::SETTLED);
        let ours_runs = |ours_t: &mut Vec<Duration>, per_snap_t: &mut Vec<Duration>| {
            ours_t.push(time_cmd(1, || move_group_cmd(&base, &locks, "a", "b")));
            settle();
            per_snap_t.push(time_cmd(1, || {
                per_snapshot(move_group_cmd(&base, &locks, "f", "g"))
            }));
            settle();
        };
        let before_runs = |whole: &mut Vec<Duration>, per: &mut Vec<Duration>| {
            let Some(bin) = &before else { return };
            whole.push(time_cmd(1, || {
                move_group_cmd_of(bin, &base, &locks, "j", "k")
            }));
            settle();
            per.push(time_cmd(1, || {
                per_snapshot(move_group_cmd_of(bin, &base, &locks, "l", "m"))
            }));
            settle();
        };
        // Interleaved: ours first in even rounds, the before binary first in odd ones.
        if round % 2 == 0 {
            ours_runs(&mut ours_t, &mut per_snap_t);
            before_runs(&mut before_whole_t, &mut before_per_t);
        } else {
            before_runs(&mut before_whole_t, &mut before_per_t);
            ours_runs(&mut ours_t, &mut per_snap_t);
        }
        if extras {
            old_locks_t.push(time_cmd(1, || {
                let mut c = move_group_cmd(&base, &locks, "h", "i");
                c.env("PBS_MOVER_PBS_VERSION", "3.2.4");
                c
            }));
            settle();
        }
        floor_t.push(rename_loop(
            &base.join("ns/c/vm/100"),
            &base.join("ns/d/vm/100"),
        ));
        fs::create_dir_all(base.join("ns/d/ct")).unwrap();
        if with_mv {
            mv = time_cmd(1, || {
                let mut c = Command::new("mv");
                c.arg(base.join("ns/e/vm/100"))
                    .arg(base.join("ns/d/ct/100"));
                c
            });
        }
        let _ = fs::remove_dir_all(&base);
        let _ = fs::remove_dir_all(&locks);
    }
    MoveGroupTimes {
        ours: median(ours_t),
        floor: median(floor_t),
        mv,
        per_snapshot: median(per_snap_t),
        old_locks: median(old_locks_t),
        before: before.map(|_| (median(before_whole_t), median(before_per_t))),
    }
}

fn bench_move_group(root: &Path, rows: &mut Rows) {
    let n = env_usize("BENCH_SNAPSHOTS", 10_000);
    let t = move_group_case(root, n, true);
    let row = |case: String, ours: Duration, baseline_name: &str, baseline: Duration| Row {
        case,
        ours,
        baseline_name: baseline_name.into(),
        baseline,
        per_snapshot: None,
    };
    let case = format!("FS move-group, {n} snapshots");
    rows.push(row(case.clone(), t.ours, "rename(2) loop", t.floor));
    rows.push(row(case.clone(), t.ours, "mv of the group dir", t.mv));
    let per_case = format!(
        "FS move-group, {n} snapshots, snapshot by snapshot ({}=1)",
        pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV
    );
    rows.push(row(
        per_case.clone(),
        t.per_snapshot,
        "rename(2) loop",
        t.floor,
    ));
    if let Some((whole, per)) = t.before {
        rows.push(row(
            format!("{case}, before (BENCH_BEFORE_BIN)"),
            whole,
            "rename(2) loop",
            t.floor,
        ));
        rows.push(row(
            format!("{per_case}, before (BENCH_BEFORE_BIN)"),
            per,
            "rename(2) loop",
            t.floor,
        ));
        rows.push(row(
            format!("{case}: after vs before"),
            t.ours,
            "before",
            whole,
        ));
        rows.push(row(
            format!("{per_case}: after vs before"),
            t.per_snapshot,
            "before",
            per,
        ));
    }
    rows.push(row(
        format!("FS move-group, {n} snapshots, PBS 3.2.4 (old+new locks)"),
        t.old_locks,
        &format!("same for PBS {} (lock files only)", pbs_version()),
        t.ours,
    ));
}

/// Scan and move time against snapshot count (issue 7 case 4, issue 18.3): one row per size
/// for the scan (against `find`) and for move-group on both paths, whole-group and
/// snapshot by snapshot (against a bare rename(2) loop; with `BENCH_BEFORE_BIN` also the
/// before binary's), every cell with its cost per snapshot, which must stay flat as the
/// count grows 10× and 100×.
fn bench_scaling(root: &Path, rows: &mut Rows, notes: &mut Vec<String>) {
    let sizes: Vec<usize> = std::env::var("BENCH_SCALE_SNAPSHOTS")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let cases = std::env::var("BENCH_CASES").unwrap_or_default();
    // `scaling-fs`: only the move rows.
    let scan = !cases.contains("scaling-fs");
    let mut scan_line = Vec::new();
    let mut move_line = Vec::new();
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    // What every move pays whatever its size (process start, config, locks of the group and
    // namespaces, the crash journal's syncs): a 1-snapshot move, in the same way. The cost
    // that grows with the count is then (T(n) - T(1)) / (n - 1), which is what must be flat.
    let fixed = move_group_case(root, 1, false);
    let marginal = |d: Duration, f: Duration, n: usize| {
        d.saturating_sub(f).as_secs_f64() * 1e6 / n.saturating_sub(1).max(1) as f64
    };
    let fixed_row = |case: &str, ours: Duration| Row {
        case: format!("scaling: FS move-group, 1 group / 1 snapshot, {case} (a move's fixed cost)"),
        ours,
        baseline_name: "rename(2) loop".into(),
        baseline: fixed.floor,
        per_snapshot: Some(1),
    };
    rows.push(fixed_row("whole group", fixed.ours));
    rows.push(fixed_row("snapshot by snapshot", fixed.per_snapshot));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut line = format!(
        "1 (fixed cost): whole {:.2} ms, per-snapshot {:.2} ms",
        ms(fixed.ours),
        ms(fixed.per_snapshot)
    );
    if let Some((fw, fp)) = fixed.before {
        line.push_str(&format!("; before {:.2}, {:.2} ms", ms(fw), ms(fp)));
    }
    move_line.push(line);
    for &n in &sizes {
        if scan {
            scaling_scan(root, n, rows, notes, &mut scan_line);
        }
        let t = move_group_case(root, n, false);
        let row = |case: String, ours: Duration, baseline_name: &str, baseline: Duration| Row {
            case,
            ours,
            baseline_name: baseline_name.into(),
            baseline,
            per_snapshot: Some(n),
        };
        let whole = format!("scaling: FS move-group, 1 group / {n} snapshots, whole group");
        let snap = format!("scaling: FS move-group, 1 group / {n} snapshots, snapshot by snapshot");
        rows.push(row(whole.clone(), t.ours, "rename(2) loop", t.floor));
        rows.push(row(snap.clone(), t.per_snapshot, "rename(2) loop", t.floor));
        let mut line = format!(
            "{n}: whole {:.1}, per-snapshot {:.1} µs/snapshot (rename loop {:.1})",
            per(t.ours, n),
            per(t.per_snapshot, n),
            per(t.floor, n)
        );
        line.push_str(&format!(
            "; beyond the fixed cost: whole {:.1}, per-snapshot {:.1}",
            marginal(t.ours, fixed.ours, n),
            marginal(t.per_snapshot, fixed.per_snapshot, n)
        ));
        if let Some((bw, bp)) = t.before {
            rows.push(row(
                format!("{whole}, before"),
                bw,
                "rename(2) loop",
                t.floor,
            ));
            rows.push(row(
                format!("{snap}, before"),
                bp,
                "rename(2) loop",
                t.floor,
            ));
            line.push_str(&format!(
                "; before: whole {:.1}, per-snapshot {:.1}",
                per(bw, n),
                per(bp, n)
            ));
            if let Some((fw, fp)) = fixed.before {
                line.push_str(&format!(
                    " (beyond the fixed cost {:.1}, {:.1})",
                    marginal(bw, fw, n),
                    marginal(bp, fp, n)
                ));
            }
        }
        move_line.push(line);
    }
    if scan {
        notes.push(format!("scaling, scan: {}", scan_line.join("; ")));
    }
    notes.push(format!("scaling, FS move-group: {}", move_line.join("; ")));
}

/// `c` (args and environment) run by the binary `bin` instead.
fn with_bin(bin: &Path, c: &Command) -> Command {
    let mut b = Command::new(bin);
    b.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => b.env(k, v),
            None => b.env_remove(k),
        };
    }
    b
}

/// The scan row of one size of [`bench_scaling`].
fn scaling_scan(
    root: &Path,
    n: usize,
    rows: &mut Rows,
    notes: &mut Vec<String>,
    scan_line: &mut Vec<String>,
) {
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    // The demo makes ~11 snapshots per group.
    let (base, snaps) = demo_store(root, &format!("scale-{n}"), (n / 11).max(1), notes);
    let locks = root.join("locks");
    let ls = ["ls", "--recursive", "--json"];
    let (o, f) = interleaved(3, &mut || {}, &mut || ours(&base, &locks, &ls), &mut || {
        find(&base)
    });
    rows.push(Row {
        case: format!(
            "scaling: scan (ls --recursive --json), {} groups / {snaps} snapshots, warm",
            (n / 11).max(1)
        ),
        ours: o,
        baseline_name: "find -printf".into(),
        baseline: f,
        per_snapshot: Some(snaps),
    });
    scan_line.push(format!(
        "{snaps}: {:.2} µs/snapshot (find {:.2})",
        per(o, snaps),
        per(f, snaps)
    ));
    let _ = fs::remove_dir_all(&base);
}

fn bench_move_ns(root: &Path, rows: &mut Rows) {
    let groups = env_usize("BENCH_NS_GROUPS", 1000);
    let before = before_bin();
    let (mut ours_t, mut renames_t, mut rmdirs_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ours_tmp_state, mut per_snapshot) = (Vec::new(), Vec::new());
    let mut before_t = Vec::new();
    for round in 0..move_runs() {
        let base = root.join("mn-store");
        chunk_store(&base);
        for ns in ["src", "src2", "src3", "src4", "floor", "dst"] {
            fs::create_dir_all(base.join("ns").join(ns)).unwrap();
        }
        for g in 0..groups {
            for ns in ["src", "src2", "src3", "src4", "floor"] {
                if ns != "src4" || before.is_some() {
                    write_group(&base.join(format!("ns/{ns}/vm/{g}")), 5);
                }
            }
        }
        let locks = lock_dir(root, &format!("mn-locks-{round}"));
        if let Some(bin) = &before {
            // Before ours in odd rounds, after it in even ones: neither gets the warmer cache.
            let mut run_before = || {
                settle();
                let c = move_ns_cmd(&base, &locks, "src4", "moved4");
                before_t.push(time_cmd(1, || with_bin(bin, &c)));
            };
            if round % 2 == 1 {
                run_before();
            }
            settle();
            ours_t.push(time_cmd(1, || move_ns_cmd(&base, &locks, "src", "moved")));
            if round % 2 == 0 {
                run_before();
            }
        } else {
            settle();
            ours_t.push(time_cmd(1, || move_ns_cmd(&base, &locks, "src", "moved")));
        }
        // The same move with the crash journal next to the locks (tmpfs with
        // BENCH_LOCK_DIR): what its journal syncs cost on the state dir's disk.
        settle();
        ours_tmp_state.push(time_cmd(1, || {
            let mut c = move_ns_cmd(&base, &locks, "src2", "moved2");
            c.env("PBS_MOVER_STATE_DIR", locks.join("state"));
            c
        }));
        // Before: every group snapshot by snapshot, as PBS moves them.
        settle();
        per_snapshot.push(time_cmd(1, || {
            let mut c = move_ns_cmd(&base, &locks, "src3", "moved3");
            c.env(
                pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV,
                "1",
            );
            c
        }));
        settle();
        let start = Instant::now();
        for g in 0..groups {
            rename_loop(
                &base.join(format!("ns/floor/vm/{g}")),
                &base.join(format!("ns/dst/vm/{g}")),
            );
        }
        renames_t.push(start.elapsed());
        // A move must also remove the emptied source group dirs (rmdir can stall on ext4).
        let start = Instant::now();
        for g in 0..groups {
            let _ = fs::remove_dir(base.join(format!("ns/floor/vm/{g}")));
        }
        rmdirs_t.push(start.elapsed());
        let _ = fs::remove_dir_all(&base);
        let _ = fs::remove_dir_all(&locks);
    }
    let (ours_t, renames, rmdirs) = (median(ours_t), median(renames_t), median(rmdirs_t));
    let (ours_tmp_state, per_snapshot) = (median(ours_tmp_state), median(per_snapshot));
    if let Some(bin) = &before {
        rows.push(Row {
            case: format!(
                "FS move-ns, {groups} groups × 5 snapshots, before/after ({})",
                bin.display()
            ),
            ours: ours_t,
            baseline_name: "before (BENCH_BEFORE_BIN)".into(),
            baseline: median(before_t),
            per_snapshot: None,
        });
    }
    rows.push(Row {
        case: format!("FS move-ns, {groups} groups × 5 snapshots"),
        ours: ours_t,
        baseline_name: "rename(2) loop".into(),
        baseline: renames,
        per_snapshot: None,
    });
    rows.push(Row {
        case: format!("FS move-ns, {groups} groups × 5 snapshots"),
        ours: ours_t,
        baseline_name: "rename(2) loop + rmdir of emptied group dirs".into(),
        baseline: renames + rmdirs,
        per_snapshot: None,
    });
    rows.push(Row {
        case: format!(
            "FS move-ns, {groups} groups × 5 snapshots, snapshot by snapshot ({}=1)",
            pbs_mover::ops::engine::lock_and_move::GROUP_RENAME_OFF_ENV
        ),
        ours: per_snapshot,
        baseline_name: "rename(2) loop".into(),
        baseline: renames,
        per_snapshot: None,
    });
    rows.push(Row {
        case: format!(
            "FS move-ns, {groups} groups × 5 snapshots, crash journal on the lock dir's fs"
        ),
        ours: ours_tmp_state,
        baseline_name: "rename(2) loop".into(),
        baseline: renames,
        per_snapshot: None,
    });
}

/// systemd's default hard open-file limit (PBS hosts): a whole-group move locks every
/// snapshot at once, so the 100,000-snapshot rows need more than a container's usual 20,000.
/// Raised where we may (root); the limit in effect is noted either way.
fn open_file_limit() -> String {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    const SYSTEMD_HARD: u64 = 524_288;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && hard < SYSTEMD_HARD
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, soft, SYSTEMD_HARD);
    }
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => format!("open-file limit {soft}:{hard} (soft:hard) for our runs"),
        Err(e) => format!("open-file limit unknown: {e}"),
    }
}

/// The search index of a datastore: build time, time from the last keystroke of a search
/// to the frame with the cursor on the match (the App's own path: query, the namespaces on
/// the way listed, drawn), and the TUI process's peak RSS with the index in memory.
mod search {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use pbs_mover::tree::search::{Query, build, read_comments};
    use pbs_mover::tree::{Datastore, Locator};
    use pbs_mover::ui::app::App;
    use pbs_mover::ui::keys::keymap::Keymap;
    use pbs_mover::ui::tasks::executor::run_inline;
    use pbs_mover::ui::tasks::scans::ScanRequest;
    use pbs_mover::ui::tasks::{AppEvent, Command as UiCommand};
    use pbs_mover::ui::theme::Theme;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::{Row, Rows, median, ms};

    pub const CHILD_ENV: &str = "PBS_MOVER_BENCH_SEARCH_CHILD";
    /// Set in the child: the comment pass is left out (the RSS baseline).
    const NO_COMMENTS_ENV: &str = "PBS_MOVER_BENCH_SEARCH_NO_COMMENTS";

    fn open(base: &Path) -> Datastore {
        Locator {
            path: Some(base.to_path_buf()),
            config_dir: Some(base.with_file_name("search-etc")),
            ..Default::default()
        }
        .locate()
        .expect("bench datastore")
    }

    /// The group deepest down (ties: the last in tree order), as `type/id`, and its depth.
    fn deepest_group(base: &Path) -> (String, usize) {
        let index = build(&open(base)).expect("index");
        index
            .entries()
            .iter()
            .filter_map(|e| Some((e.group.as_ref()?.to_string(), e.ns.depth())))
            .max_by_key(|(_, d)| *d)
            .expect("a group")
    }

    /// A fresh App with the root listed, its sizes known and the index built.
    fn app(base: &Path, locks: &Path) -> App {
        let mut app = App::new(
            Arc::new(open(base)),
            locks.to_path_buf(),
            Keymap::defaults(),
            Theme::new(true),
        );
        app.run_commands_blocking();
        app
    }

    fn key(app: &mut App, c: char) {
        let ev = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        app.handle_event(AppEvent::Key(ev));
        run_foreground(app);
    }

    /// Runs what a keystroke asked for, except the size passes: the event loop runs those
    /// on other threads and draws the listing without waiting for them.
    fn run_foreground(app: &mut App) {
        loop {
            let commands = app.take_commands();
            if commands.is_empty() {
                return;
            }
            for c in commands {
                if matches!(c, UiCommand::Scan(ScanRequest::Sizes { .. })) {
                    continue;
                }
                for ev in run_inline(&app.ctx.clone(), c) {
                    app.handle_event(ev);
                }
            }
        }
    }

    fn frame(app: &mut App) {
        let mut t = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
        t.draw(|f| pbs_mover::ui::view::draw(f, app)).expect("draw");
    }

    /// Types `/query` into a fresh App; the time of the last keystroke to its frame.
    fn keystroke_to_frame(base: &Path, locks: &Path, query: &str) -> Duration {
        let mut app = app(base, locks);
        key(&mut app, '/');
        let (prefix, last) = query.split_at(query.len() - 1);
        for c in prefix.chars() {
            key(&mut app, c);
        }
        let t = Instant::now();
        key(&mut app, last.chars().next().expect("non-empty"));
        frame(&mut app);
        let d = t.elapsed();
        assert!(
            !app.search.hits.is_empty(),
            "the search for {query} found nothing"
        );
        d
    }

    /// The old `/`: a case-insensitive substring test of every loaded label, here with
    /// every group loaded (what the user had to expand by hand first).
    fn linear_filter(labels: &[String], query: &str) -> Duration {
        let t = Instant::now();
        let q = query.to_lowercase();
        let hits = labels
            .iter()
            .filter(|l| l.to_lowercase().contains(&q))
            .count();
        let d = t.elapsed();
        std::hint::black_box(hits);
        d
    }

    /// Child mode: the App with its index built (and its comment pass run, unless
    /// `NO_COMMENTS_ENV`) and one search done, every size pass run too (the worst case);
    /// prints VmHWM.
    pub fn child(base: &str) {
        let locks = PathBuf::from(base).with_file_name("search-locks");
        let comments = std::env::var_os(NO_COMMENTS_ENV).is_none();
        let mut app = App::new(
            Arc::new(open(Path::new(base))),
            locks.clone(),
            Keymap::defaults(),
            Theme::new(true),
        );
        run_all(&mut app, comments);
        for c in "/vm/1".chars() {
            let ev = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
            app.handle_event(AppEvent::Key(ev));
            run_all(&mut app, comments);
        }
        frame(&mut app);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let hwm = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .unwrap_or("VmHWM: 0 kB");
        println!("{hwm}");
    }

    /// Runs every queued command inline, the comment pass only when `comments`.
    fn run_all(app: &mut App, comments: bool) {
        loop {
            let commands = app.take_commands();
            if commands.is_empty() {
                return;
            }
            for c in commands {
                if !comments && matches!(c, UiCommand::IndexComments { .. }) {
                    continue;
                }
                for ev in run_inline(&app.ctx.clone(), c) {
                    app.handle_event(ev);
                }
            }
        }
    }

    fn child_rss_mib(base: &Path, comments: bool) -> f64 {
        let mut c = Command::new(std::env::current_exe().expect("bench exe"));
        c.env(CHILD_ENV, base);
        if !comments {
            c.env(NO_COMMENTS_ENV, "1");
        }
        let out = c.output().expect("spawn bench child");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    pub fn bench(base: &Path, rows: &mut Rows, notes: &mut Vec<String>, snapshots: usize) {
        let locks = base.with_file_name("search-locks");
        std::fs::create_dir_all(&locks).expect("lock dir");
        let ds = open(base);
        let build_times: Vec<Duration> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let index = build(&ds).expect("index");
                let d = t.elapsed();
                assert!(!index.is_empty());
                d
            })
            .collect();
        let index = build(&ds).expect("index");
        let groups = index.entries().iter().filter(|e| e.group.is_some()).count();
        let find = (0..3)
            .map(|_| super::time_cmd(1, || super::find(base)))
            .collect();
        rows.push(Row {
            case: format!("search index build ({groups} groups, {snapshots} snapshots, warm)"),
            ours: median(build_times.clone()),
            baseline_name: "find -printf of the store".into(),
            baseline: median(find),
            per_snapshot: None,
        });
        let all_groups = index.groups();
        let mut with_comment = 0;
        let pass_times: Vec<Duration> = (0..3)
            .map(|_| {
                with_comment = 0;
                let t = Instant::now();
                read_comments(&ds, &all_groups, &|| false, &mut |batch| {
                    with_comment += batch.iter().filter(|c| c.comment.is_some()).count();
                });
                t.elapsed()
            })
            .collect();
        rows.push(Row {
            case: format!(
                "search comment pass after the build ({groups} groups' newest manifest, \
                 {with_comment} with a comment, warm)"
            ),
            ours: median(pass_times),
            baseline_name: "the plain index build (no manifests)".into(),
            baseline: median(build_times),
            per_snapshot: None,
        });
        let labels: Vec<String> = index
            .entries()
            .iter()
            .filter_map(|e| e.group.as_ref().map(ToString::to_string))
            .collect();
        let (deep, depth) = deepest_group(base);
        for query in [deep.as_str(), "1234", "root@pam"] {
            let q = Query::parse(query);
            let t = Instant::now();
            let hits = index.search(&q).count();
            let ours = t.elapsed();
            rows.push(Row {
                case: format!("search '{query}' over the index ({hits} hits)"),
                ours,
                baseline_name: "old filter: substring of every label, all loaded".into(),
                baseline: linear_filter(&labels, query).max(Duration::from_nanos(1)),
                per_snapshot: None,
            });
        }
        let first: Vec<Duration> = (0..3)
            .map(|_| keystroke_to_frame(base, &locks, &deep))
            .collect();
        let old = linear_filter(&labels, &deep);
        rows.push(Row {
            case: format!(
                "TUI: last keystroke of /{deep} to the frame on it ({depth} levels down, \
                 namespaces on the way listed)"
            ),
            ours: median(first),
            baseline_name: "old filter scan alone (after expanding all by hand)".into(),
            baseline: old,
            per_snapshot: None,
        });
        let rss = child_rss_mib(base, true);
        let rss_plain = child_rss_mib(base, false);
        let ls_rss = super::peak_rss_mib(base, &locks);
        notes.push(format!(
            "search: TUI with the index built, its comment pass run and a search done: peak \
             RSS {rss:.1} MiB (without the comment pass: {rss_plain:.1} MiB; ls --recursive \
             --json of the same store: {ls_rss:.1} MiB); goal <= 64 MiB; \
             first results goal <= 100 ms ({}), index goal <= 1 s",
            ms(median(
                (0..3)
                    .map(|_| keystroke_to_frame(base, &locks, "1234"))
                    .collect()
            ))
        ));
    }
}

fn main() {
    if let Ok(base) = std::env::var(search::CHILD_ENV) {
        search::child(&base);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("pbs-mover-bench-")
        .tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()))
        .unwrap();
    let mut rows = Rows::default();
    let mut notes = Vec::new();
    notes.push(open_file_limit());
    let cases =
        std::env::var("BENCH_CASES").unwrap_or_else(|_| "scan,tui,move,scaling,search".into());
    if cases.contains("scan") || cases.contains("tui") {
        bench_scan(root.path(), &mut rows, &mut notes, &cases);
    }
    if cases.contains("search") {
        let groups = env_usize("BENCH_GROUPS", 10_000);
        let (base, snapshots) = demo_store(root.path(), "search-store", groups, &mut notes);
        search::bench(&base, &mut rows, &mut notes, snapshots);
    }
    if cases.contains("move") {
        // `BENCH_MOVE`: which move cases (default `group,ns`).
        let moves = std::env::var("BENCH_MOVE").unwrap_or_else(|_| "group,ns".into());
        if moves.contains("group") {
            bench_move_group(root.path(), &mut rows);
        }
        if moves.contains("ns") {
            bench_move_ns(root.path(), &mut rows);
        }
    }
    if cases.contains("scaling") {
        bench_scaling(root.path(), &mut rows, &mut notes);
    }
    println!("NOTE {} rows", rows.0.len());
    for n in notes {
        println!("NOTE {n}");
    }
}
