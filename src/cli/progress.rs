//! Progress of a CLI move on its way to a person or a script: one live line on a terminal,
//! one line per group otherwise (and with `--quiet`), JSON Lines with `--json-progress`,
//! nothing with `--json`. Every mode but `--json` ends with a total line.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{
    HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};

use super::args::GlobalArgs;
use super::interrupt;
use crate::ops::progress::{CancelToken, Progress, ProgressEvent};

/// The live line: totals, rate, ETA, then the group in progress (cut to the terminal's width).
const LIVE_TEMPLATE: &str =
    "[{elapsed_precise}] {prefix} · snapshots {pos}/{len} · {rate} · ETA {eta} · {wide_msg}";

/// An S3 move's live line, once its first objects are listed: objects and bytes copied of
/// those listed so far, a byte rate, and an ETA from the bytes.
const LIVE_TEMPLATE_S3: &str = "[{elapsed_precise}] {prefix} · snapshots {pos}/{len} · {objects} · {rate} · ETA {eta} · {wide_msg}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--json`: stdout carries the one result object, stderr stays as it was.
    Silent,
    /// stderr is a terminal: an indicatif line, redrawn in place.
    Live,
    /// Not a terminal, or `--quiet`: one line per group, as before there was a live line.
    Lines,
    /// `--json-progress`: every engine event as one JSON object per line on stdout.
    JsonLines,
}

/// How far the move got, for the live line and the total.
#[derive(Debug, Default)]
struct Tally {
    groups: usize,
    snapshots: usize,
    /// S3: bucket objects and bytes to copy, of the lock batches listed so far.
    objects: u64,
    bytes: u64,
    /// S3: snapshots whose objects are in `objects` and `bytes`.
    snapshots_listed: usize,
    groups_done: usize,
    snapshots_done: usize,
    objects_done: u64,
    bytes_done: u64,
    /// When the first objects were listed: the byte rate counts from there.
    copy_started: Option<Instant>,
    started: bool,
}

impl Tally {
    /// An S3 move: it has bucket objects to copy.
    fn copies_objects(&self) -> bool {
        self.objects > 0
    }

    /// Bytes per second copied since the first listing.
    fn byte_rate(&self) -> f64 {
        let secs = self.copy_started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        if secs > 0.0 {
            self.bytes_done as f64 / secs
        } else {
            0.0
        }
    }

    /// Bytes of the whole move: those listed, plus the snapshots not listed yet at the
    /// listed ones' average (later groups are only listed when they start).
    fn bytes_expected(&self) -> u64 {
        let unlisted = self.snapshots.saturating_sub(self.snapshots_listed) as u64;
        match self.snapshots_listed as u64 {
            0 => self.bytes,
            listed => self.bytes + unlisted * (self.bytes / listed),
        }
    }

    /// Time left at the byte rate so far; `None` before any byte is copied.
    fn eta_by_bytes(&self) -> Option<Duration> {
        let rate = self.byte_rate();
        (self.bytes_done > 0 && rate > 0.0).then(|| {
            let left = self.bytes_expected().saturating_sub(self.bytes_done);
            Duration::from_secs_f64(left as f64 / rate)
        })
    }

    /// `objects 12/40 · 1.2 MiB/4.0 MiB` (the totals grow as groups are listed).
    fn objects_text(&self) -> String {
        format!(
            "objects {}/{} · {}/{}",
            self.objects_done,
            self.objects,
            HumanBytes(self.bytes_done),
            HumanBytes(self.bytes)
        )
    }
}

type SharedTally = Arc<Mutex<Tally>>;

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A panic elsewhere while counting leaves counts that are still worth showing.
    tally.lock().unwrap_or_else(|p| p.into_inner())
}

struct Inner {
    mode: Mode,
    verbose: bool,
    bar: ProgressBar,
    /// Shared with the live line's keys, which read it while indicatif draws: never call
    /// the bar while holding it.
    tally: SharedTally,
    since: Instant,
    /// The live line switched to its S3 template.
    s3_style: AtomicBool,
}

/// Shared by the engine's sink and the signal watcher; cloning shares it.
#[derive(Clone)]
pub struct Reporter(Arc<Inner>);

impl Reporter {
    /// `json`: the command prints its `--json` object (also implied by `--json-progress`).
    pub fn new(global: &GlobalArgs, json: bool) -> Self {
        let mode = if global.json_progress {
            Mode::JsonLines
        } else if json {
            Mode::Silent
        } else if global.quiet || !std::io::stderr().is_terminal() {
            Mode::Lines
        } else {
            Mode::Live
        };
        let bar = match mode {
            Mode::Live => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            _ => ProgressBar::hidden(),
        };
        Self(Arc::new(Inner {
            mode,
            verbose: global.verbose,
            bar,
            tally: SharedTally::default(),
            since: Instant::now(),
            s3_style: AtomicBool::new(false),
        }))
    }

    /// A reporter and the engine's end of it, with Ctrl-C and SIGTERM turned into a cancel.
    /// Runs before the datastore is opened: the signal mask must be set before any thread
    /// starts (an S3 client's runtime, the live line's ticker).
    pub fn start_move(global: &GlobalArgs, json: bool) -> (Self, Progress) {
        let reporter = Self::new(global, json);
        let cancel = CancelToken::new();
        let say = reporter.clone();
        crate::ops::locks::move_set::grow_fd_table_early();
        if let Err(e) = interrupt::install(cancel.clone(), move |line| say.say(line)) {
            reporter.say(&format!("warning: Ctrl-C will end the move at once: {e:#}"));
        }
        let progress = reporter.progress(cancel);
        (reporter, progress)
    }

    /// The engine's end of it, with the token Ctrl-C sets.
    fn progress(&self, cancel: CancelToken) -> Progress {
        let me = self.clone();
        Progress::new(move |ev| me.on_event(ev), cancel)
    }

    /// A line for the person at the terminal (above the live line, if there is one); also
    /// in the JSON modes, on stderr, which carries no JSON.
    pub fn say(&self, line: &str) {
        if self.0.bar.is_hidden() || self.0.bar.is_finished() {
            let _ = std::io::stderr()
                .lock()
                .write_all(format!("{line}\n").as_bytes());
        } else {
            self.0.bar.println(line);
        }
    }

    /// Runs the command's own output with the live line gone, then prints the total: with
    /// the result, on stdout (the live line and the progress lines are stderr's).
    pub fn conclude<T>(&self, output: impl FnOnce() -> T) -> T {
        self.0.bar.finish_and_clear();
        let out = output();
        if let Some(line) = self.total_line() {
            super::print_out(&format!("{line}\n"));
        }
        out
    }

    fn tally(&self) -> MutexGuard<'_, Tally> {
        lock(&self.0.tally)
    }

    fn on_event(&self, ev: ProgressEvent) {
        self.count(&ev);
        match self.0.mode {
            Mode::Silent => {}
            Mode::JsonLines => emit_json(&ev),
            Mode::Live => self.live(ev),
            Mode::Lines => {
                if let Some(line) = event_line(&ev, self.0.verbose) {
                    self.say(&line);
                }
            }
        }
    }

    fn count(&self, ev: &ProgressEvent) {
        let mut t = self.tally();
        match ev {
            // `resume` plans once per interrupted operation: they add up.
            ProgressEvent::Planned {
                groups,
                snapshots,
                bytes,
            } => {
                t.started = true;
                t.groups += groups;
                t.snapshots += snapshots;
                t.bytes += bytes;
            }
            ProgressEvent::ObjectsPlanned {
                snapshots,
                objects,
                bytes,
                ..
            } => {
                t.copy_started.get_or_insert_with(Instant::now);
                t.snapshots_listed += snapshots;
                t.objects += objects;
                t.bytes += bytes;
            }
            ProgressEvent::ObjectsCopied { objects, bytes, .. } => {
                t.objects_done += objects;
                t.bytes_done += bytes;
            }
            ProgressEvent::SnapshotMoved { .. } => t.snapshots_done += 1,
            ProgressEvent::GroupDone { .. } => t.groups_done += 1,
            _ => {}
        }
    }

    fn live(&self, ev: ProgressEvent) {
        let bar = &self.0.bar;
        match &ev {
            ProgressEvent::Planned { .. } => self.start_bar(),
            ProgressEvent::ObjectsPlanned { .. } => self.show_objects(),
            ProgressEvent::GroupStarted {
                ns,
                group,
                target_ns,
                ..
            } => bar.set_message(format!(
                "{group} '{}' → '{}'",
                ns.human(),
                target_ns.human()
            )),
            ProgressEvent::SnapshotMoved { .. } => bar.inc(1),
            _ => {}
        }
        self.refresh_prefix();
        // GroupStarted is what the live line shows; everything else keeps its line.
        if !matches!(ev, ProgressEvent::GroupStarted { .. })
            && let Some(line) = event_line(&ev, self.0.verbose)
        {
            bar.println(line);
        }
    }

    fn start_bar(&self) {
        let bar = &self.0.bar;
        // The template is a literal that parses (a unit test says so); a bad one would
        // keep indicatif's default style, not fail the move.
        if let Ok(style) = live_style() {
            bar.set_style(style);
        }
        let snapshots = self.tally().snapshots as u64;
        bar.set_length(snapshots);
        self.refresh_prefix();
        // Elapsed time and ETA move on while one big snapshot is copied.
        bar.enable_steady_tick(Duration::from_millis(250));
    }

    /// From an S3 move's first listing on, the live line counts objects and bytes.
    fn show_objects(&self) {
        if self.0.s3_style.swap(true, Ordering::Relaxed) {
            return;
        }
        // A literal that parses, as for `start_bar`.
        if let Ok(style) = live_style_s3(&self.0.tally) {
            self.0.bar.set_style(style);
        }
    }

    fn refresh_prefix(&self) {
        let t = self.tally();
        let prefix = format!("groups {}/{}", t.groups_done, t.groups);
        drop(t);
        self.0.bar.set_prefix(prefix);
    }

    /// `total: …` once a move started; none for `--json`, whose object says it all.
    fn total_line(&self) -> Option<String> {
        if matches!(self.0.mode, Mode::Silent | Mode::JsonLines) {
            return None;
        }
        let t = self.tally();
        t.started.then(|| total_text(&t, self.0.since.elapsed()))
    }
}

/// indicatif's own `{per_sec}` prints four decimals; whole snapshots per second suffice.
fn live_style() -> Result<ProgressStyle, indicatif::style::TemplateError> {
    Ok(ProgressStyle::with_template(LIVE_TEMPLATE)?.with_key(
        "rate",
        |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.0} snapshots/s", state.per_sec());
        },
    ))
}

/// The S3 live line: its keys read the tally (objects and bytes are not the bar's count).
fn live_style_s3(tally: &SharedTally) -> Result<ProgressStyle, indicatif::style::TemplateError> {
    let (objects, rate, eta) = (tally.clone(), tally.clone(), tally.clone());
    Ok(ProgressStyle::with_template(LIVE_TEMPLATE_S3)?
        .with_key(
            "objects",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&lock(&objects).objects_text());
            },
        )
        .with_key(
            "rate",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", HumanBytes(lock(&rate).byte_rate() as u64));
            },
        )
        .with_key(
            "eta",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let left = lock(&eta).eta_by_bytes().unwrap_or_else(|| state.eta());
                let _ = write!(w, "{:#}", HumanDuration(left));
            },
        ))
}

fn total_text(t: &Tally, took: Duration) -> String {
    let secs = took.as_secs_f64();
    let rate = if secs > 0.0 {
        t.snapshots_done as f64 / secs
    } else {
        0.0
    };
    let moved = format!(
        "total: {} of {} snapshot(s) and {} of {} group(s) moved",
        t.snapshots_done, t.snapshots, t.groups_done, t.groups
    );
    if !t.copies_objects() {
        return format!("{moved} in {secs:.1}s ({rate:.0} snapshots/s)");
    }
    let byte_rate = if secs > 0.0 {
        t.bytes_done as f64 / secs
    } else {
        0.0
    };
    format!(
        "{moved}, {} of {} object(s) ({} of {}) copied in {secs:.1}s ({rate:.0} snapshots/s, {}/s)",
        t.objects_done,
        t.objects,
        HumanBytes(t.bytes_done),
        HumanBytes(t.bytes),
        HumanBytes(byte_rate as u64)
    )
}

/// One event, one line, one write: lines of concurrent writers never interleave.
fn emit_json(ev: &ProgressEvent) {
    if let Ok(mut line) = serde_json::to_string(ev) {
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// The human line of an event; `verbose` adds the steps a default run keeps quiet about.
fn event_line(ev: &ProgressEvent, verbose: bool) -> Option<String> {
    let line = match ev {
        ProgressEvent::GroupStarted {
            ns,
            group,
            target_ns,
            snapshots,
            merge,
        } => format!(
            "{} group '{group}' from '{}' to '{}' ({snapshots} snapshots)",
            if *merge { "merging" } else { "moving" },
            ns.human(),
            target_ns.human()
        ),
        ProgressEvent::GroupDeferred { group, ns, message } => format!(
            "deferring group '{group}' in '{}' - lock conflict, will retry: {message}",
            ns.human()
        ),
        ProgressEvent::GroupFailed {
            group, ns, message, ..
        } => format!(
            "failed to move group '{group}' in '{}': {message}",
            ns.human()
        ),
        ProgressEvent::NamespaceCreated { ns } => format!("created namespace '{ns}'"),
        ProgressEvent::NamespaceRemoved { ns } => format!("removed source namespace '{ns}'"),
        _ if verbose => return verbose_line(ev),
        _ => return None,
    };
    Some(line)
}

fn verbose_line(ev: &ProgressEvent) -> Option<String> {
    let line = match ev {
        ProgressEvent::Planned {
            groups,
            snapshots,
            bytes,
        } => format!(
            "planned: {groups} group(s), {snapshots} snapshot(s){}",
            if *bytes > 0 {
                format!(", {} to copy", HumanBytes(*bytes))
            } else {
                String::new()
            }
        ),
        ProgressEvent::SnapshotMoved {
            ns,
            group,
            time,
            done,
            total,
        } => format!(
            "  moved snapshot '{group}/{time}' in '{}' ({done}/{total})",
            ns.human()
        ),
        ProgressEvent::GroupDone {
            ns,
            group,
            target_ns,
            snapshots,
        } => format!(
            "moved group '{group}' from '{}' to '{}' ({snapshots} snapshots)",
            ns.human(),
            target_ns.human()
        ),
        ProgressEvent::NamespaceKept { ns, reason } => {
            format!("kept source namespace '{ns}': {reason}")
        }
        ProgressEvent::ObjectsPlanned {
            ns,
            group,
            snapshots,
            objects,
            bytes,
        } => format!(
            "  listed group '{group}' in '{}': {objects} object(s), {} to copy for {snapshots} snapshot(s)",
            ns.human(),
            HumanBytes(*bytes)
        ),
        ProgressEvent::Warning { message } => format!("warning: {message}"),
        _ => return None,
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_counts_and_rate() {
        let t = Tally {
            groups: 4,
            snapshots: 300,
            groups_done: 2,
            snapshots_done: 150,
            started: true,
            ..Tally::default()
        };
        assert_eq!(
            total_text(&t, Duration::from_secs(3)),
            "total: 150 of 300 snapshot(s) and 2 of 4 group(s) moved in 3.0s (50 snapshots/s)"
        );
    }

    #[test]
    fn total_of_an_s3_move_counts_objects_and_bytes() {
        let t = Tally {
            groups: 1,
            snapshots: 10,
            objects: 40,
            bytes: 4 << 20,
            groups_done: 1,
            snapshots_done: 10,
            objects_done: 40,
            bytes_done: 4 << 20,
            started: true,
            ..Tally::default()
        };
        assert_eq!(
            total_text(&t, Duration::from_secs(2)),
            "total: 10 of 10 snapshot(s) and 1 of 1 group(s) moved, 40 of 40 object(s) \
             (4.00 MiB of 4.00 MiB) copied in 2.0s (5 snapshots/s, 2.00 MiB/s)"
        );
    }

    #[test]
    fn bytes_not_listed_yet_are_guessed_from_the_listed_snapshots() {
        let t = Tally {
            snapshots: 10,
            snapshots_listed: 4,
            bytes: 400,
            ..Tally::default()
        };
        assert_eq!(t.bytes_expected(), 1000);
        assert_eq!(Tally::default().bytes_expected(), 0);
        assert_eq!(t.eta_by_bytes(), None, "nothing copied yet");
    }

    #[test]
    fn live_template_parses() {
        assert!(live_style().is_ok());
        assert!(live_style_s3(&SharedTally::default()).is_ok());
    }
}
