//! The async loop: waits for input, scan results or move progress, updates the app, redraws
//! only when something changed. Idle, it sleeps in `select!`: no timer, no CPU, no bytes
//! written. Keys are drawn at once; so is the first background change after a quiet spell
//! (the root listing, a move's first progress). Only bursts of background updates (size
//! passes, progress of a fast move) wait: at most one such frame every [`LAZY_FRAME`].
//!
//! When the terminal goes away (SIGHUP, a hangup seen on the tty, input that fails or ends,
//! a frame that cannot be written) the loop lets go of it and only waits for the moves to
//! end: a lost SSH session never cuts a move short.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use crossterm::{execute, terminal};
use futures::StreamExt;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use super::app::App;
use super::tasks::AppEvent;
use super::tasks::executor::{Sink, execute};
use super::terminal::{Hangup, TerminalGuard};
use super::view;

/// Minimum time between two frames caused by background events: ≤ 10 frames/s over SSH.
const LAZY_FRAME: Duration = Duration::from_millis(100);

/// Benchmark/test hook: `frame` exits after the first frame, `tree` after the first frame
/// that shows the root namespace's listing (or its first part), `listed` after the first
/// frame that shows the root's whole listing, `loaded` after the first frame drawn once every
/// scan finished, `panic` panics after the first frame (tests the restore path). The
/// elapsed time is printed to stderr after the terminal is restored.
pub const EXIT_HOOK_ENV: &str = "PBS_MOVER_EXIT_AFTER_FIRST_FRAME";

/// Benchmark hook: `trailing` brings back the old throttle (every background change waits
/// for [`LAZY_FRAME`] after the previous frame, the first listing too), the baseline of the
/// "time to tree visible" bench row.
pub const THROTTLE_ENV: &str = "PBS_MOVER_FRAME_THROTTLE";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitHook {
    None,
    FirstFrame,
    Tree,
    Listed,
    Loaded,
    Panic,
}

/// When a frame caused by background events may be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Throttle {
    /// At once when no background frame was drawn in the last [`LAZY_FRAME`]: only bursts wait.
    Bursts,
    /// [`LAZY_FRAME`] after the previous frame of any kind (the behaviour before issue 18.4).
    Trailing,
}

impl Throttle {
    fn from_env() -> Self {
        match std::env::var(THROTTLE_ENV).as_deref() {
            Ok("trailing") => Self::Trailing,
            _ => Self::Bursts,
        }
    }

    /// The earliest time a background change may be drawn.
    fn slot(self, last_draw: Instant, last_lazy: Option<Instant>) -> Option<Instant> {
        match self {
            Self::Bursts => last_lazy.map(|t| t + LAZY_FRAME),
            Self::Trailing => Some(last_draw + LAZY_FRAME),
        }
    }
}

impl ExitHook {
    fn from_env() -> Self {
        match std::env::var(EXIT_HOOK_ENV).as_deref() {
            Ok("1" | "frame") => Self::FirstFrame,
            Ok("tree") => Self::Tree,
            Ok("listed") => Self::Listed,
            Ok("loaded") => Self::Loaded,
            Ok("panic") => Self::Panic,
            _ => Self::None,
        }
    }

    /// After a frame: whether to exit now, with what to report.
    fn after_frame(self, app: &App, elapsed: Duration) -> Option<(&'static str, Duration)> {
        match self {
            Self::FirstFrame => Some(("first frame", elapsed)),
            Self::Tree if app.root_listed() => Some(("tree visible", elapsed)),
            Self::Listed if app.root_complete() => Some(("root listed", elapsed)),
            Self::Loaded if !app.busy() => Some(("all scans done", elapsed)),
            Self::Panic => panic!("{EXIT_HOOK_ENV}=panic"),
            _ => None,
        }
    }
}

/// What the loop waits for besides the app's own channel.
struct Inputs {
    events: EventStream,
    /// `None` when the terminal cannot be watched: SIGHUP and failing I/O still tell.
    hangup: Option<Hangup>,
    term: Signal,
    hup: Signal,
}

/// How the interactive part ended.
enum Ended {
    /// `q`, SIGTERM, or a test hook (with what it measured): the terminal is restored.
    Quit(Option<(&'static str, Duration)>),
    /// The terminal is gone: nothing is drawn or read any more, the moves go on.
    Lost,
}

pub async fn run(mut app: App, started: Instant) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<AppEvent>();
    let mut guard = TerminalGuard::enter(app.mouse)?;
    let mut inputs = Inputs {
        events: EventStream::new(),
        hangup: Hangup::watch().ok(),
        // `kill` (TERM) ends the loop like a quit, so the guard restores the terminal. HUP
        // (a closed SSH session) means the terminal is gone.
        term: signal(SignalKind::terminate())?,
        hup: signal(SignalKind::hangup())?,
    };
    match interactive(&mut app, &mut guard, &tx, &mut rx, &mut inputs, started).await {
        Ended::Quit(report) => {
            drop(guard);
            if let Some((what, t)) = report {
                eprintln!("{what} after {:.1} ms", t.as_secs_f64() * 1000.0);
            }
        }
        Ended::Lost => {
            guard.abandon();
            drop(inputs.events);
            finish_detached(&mut app, &tx, &mut rx, inputs.term.recv()).await;
        }
    }
    Ok(())
}

/// The loop with a terminal: input, background events, frames.
async fn interactive(
    app: &mut App,
    guard: &mut TerminalGuard,
    tx: &mpsc::UnboundedSender<AppEvent>,
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
    inputs: &mut Inputs,
    started: Instant,
) -> Ended {
    let hook = ExitHook::from_env();
    let throttle = Throttle::from_env();
    let mut dirty = true;
    // Changed by a background event only: may wait for the next frame slot.
    let mut lazy = false;
    let mut last_draw = Instant::now();
    // The last frame that showed background changes: bursts are throttled from there.
    let mut last_lazy: Option<Instant> = None;
    loop {
        dispatch(app, tx);
        if app.should_quit() {
            return Ended::Quit(None);
        }
        let slot = throttle.slot(last_draw, last_lazy);
        if lazy && !dirty && slot.is_none_or(|t| Instant::now() >= t) {
            dirty = true;
        }
        if dirty {
            // A frame that cannot be written (EIO: hung up) means the terminal is gone.
            if draw(guard, app).is_err() {
                return Ended::Lost;
            }
            // Drawing asks for the manifests of the rows it showed.
            dispatch(app, tx);
            dirty = false;
            last_draw = Instant::now();
            if std::mem::take(&mut lazy) {
                last_lazy = Some(last_draw);
            }
            if let Some(report) = hook.after_frame(app, started.elapsed()) {
                return Ended::Quit(Some(report));
            }
        }
        // Only armed while a lazy frame is pending, so an idle UI has no timer at all.
        let slot = throttle.slot(last_draw, last_lazy).unwrap_or(last_draw);
        let frame_slot = tokio::time::sleep_until(slot.into());
        tokio::select! {
            ev = inputs.events.next() => match ev {
                Some(Ok(ev)) => dirty |= on_terminal_event(app, ev),
                // The terminal cannot be read any more: polling on would only spin.
                Some(Err(_)) | None => return Ended::Lost,
            },
            Some(ev) = rx.recv() => lazy |= app.handle_event(ev),
            _ = frame_slot, if lazy => {}
            _ = inputs.term.recv() => return Ended::Quit(None),
            _ = inputs.hup.recv() => return Ended::Lost,
            _ = hung_up(&mut inputs.hangup) => return Ended::Lost,
        }
        match drain(app, &mut inputs.events, rx).await {
            Ok((keys, background)) => {
                dirty |= keys;
                lazy |= background;
            }
            Err(_) => return Ended::Lost,
        }
        dirty |= throttle == Throttle::Bursts && app.take_urgent_frame();
    }
}

async fn hung_up(watch: &mut Option<Hangup>) {
    match watch {
        Some(w) => w.hung_up().await,
        None => std::future::pending().await,
    }
}

/// The terminal is gone. Every running and queued move goes on to its end (the engine closes
/// its journal as usual), then this returns and the TUI exits 0. It waits on the job channel:
/// no CPU while a move runs. `stop` (SIGTERM) still ends it at once, as it ends the
/// interactive loop; a running move is then cut short for `resume`, as it is there.
/// A marker in the state dir tells the next start what the moves did.
pub async fn finish_detached(
    app: &mut App,
    tx: &mpsc::UnboundedSender<AppEvent>,
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
    stop: impl Future,
) {
    // Nobody could read a failure to write it.
    let _marker = match app.jobs.active() {
        0 => None,
        _ => crate::ops::recovery::detached::mark(&app.ctx)
            .ok()
            .flatten(),
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        dispatch(app, tx);
        if app.jobs.active() == 0 {
            return;
        }
        tokio::select! {
            Some(ev) = rx.recv() => {
                app.handle_event(ev);
            }
            _ = &mut stop => return,
        }
    }
}

/// Applies everything that is already waiting, so a burst (key repeat, many scan batches,
/// snapshots moved) costs one frame instead of one per event. Returns (changed by input,
/// changed by background events).
async fn drain(
    app: &mut App,
    events: &mut EventStream,
    rx: &mut mpsc::UnboundedReceiver<AppEvent>,
) -> anyhow::Result<(bool, bool)> {
    let mut background = false;
    while let Ok(ev) = rx.try_recv() {
        background |= app.handle_event(ev);
    }
    let mut dirty = false;
    // Polled with this task's waker: crossterm's EventStream keeps the waker of the first
    // pending poll, so a throw-away waker (e.g. `now_or_never`) would lose later key presses.
    std::future::poll_fn(|cx| {
        while !app.should_quit() {
            match events.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(ev))) => dirty |= on_terminal_event(app, ev),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e.into())),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        Poll::Ready(Ok((dirty, background)))
    })
    .await
}

fn on_terminal_event(app: &mut App, ev: Event) -> bool {
    match ev {
        Event::Key(key) => app.handle_event(AppEvent::Key(key)),
        Event::Resize(_, _) => app.handle_event(AppEvent::Resize),
        Event::Mouse(m) => app.handle_event(AppEvent::Mouse(m)),
        // Focus and paste change nothing on screen.
        _ => false,
    }
}

/// Starts the app's queued commands on blocking threads; results come back over `tx`.
/// Directory walks, dry runs and moves block: they stay off the async workers and the
/// input path. A send fails only when the UI is quitting, so its result is ignored.
fn dispatch(app: &mut App, tx: &mpsc::UnboundedSender<AppEvent>) {
    for command in app.take_commands() {
        let tx = tx.clone();
        let sink: Sink = Arc::new(move |ev| {
            let _ = tx.send(ev);
        });
        let ctx = app.ctx.clone();
        tokio::task::spawn_blocking(move || execute(&ctx, command, &sink));
    }
}

fn draw(guard: &mut TerminalGuard, app: &mut App) -> anyhow::Result<()> {
    let term = &mut guard.terminal;
    // Synchronized output: the terminal shows the frame at once, no tearing over slow links.
    execute!(term.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    term.draw(|frame| view::draw(frame, app))?;
    execute!(term.backend_mut(), terminal::EndSynchronizedUpdate)?;
    Ok(())
}
