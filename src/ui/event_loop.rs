//! The async loop: waits for input, scan results or move progress, updates the app, redraws
//! only when something changed. Idle, it sleeps in `select!`: no timer, no CPU, no bytes
//! written. Background updates (progress of a fast move) are drawn at most every
//! [`LAZY_FRAME`]; keys are drawn at once.

use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use crossterm::{execute, terminal};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::app::{App, AppEvent, Command};
use super::jobs::{Emit, run_job};
use super::scan_jobs;
use super::terminal::TerminalGuard;
use super::view;
use super::workflow::list_all_namespaces;

/// Minimum time between two frames caused by background events: ≤ 10 frames/s over SSH.
const LAZY_FRAME: Duration = Duration::from_millis(100);

/// Benchmark/test hook: `frame` exits after the first frame, `loaded` after the first frame
/// drawn once every scan finished, `panic` panics after the first frame (tests the restore
/// path). The elapsed time is printed to stderr after the terminal is restored.
pub const EXIT_HOOK_ENV: &str = "PBS_MOVER_EXIT_AFTER_FIRST_FRAME";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExitHook {
    None,
    FirstFrame,
    Loaded,
    Panic,
}

impl ExitHook {
    fn from_env() -> Self {
        match std::env::var(EXIT_HOOK_ENV).as_deref() {
            Ok("1" | "frame") => Self::FirstFrame,
            Ok("loaded") => Self::Loaded,
            Ok("panic") => Self::Panic,
            _ => Self::None,
        }
    }
}

pub async fn run(mut app: App, started: Instant) -> anyhow::Result<()> {
    let hook = ExitHook::from_env();
    let (tx, mut rx) = mpsc::unbounded_channel::<AppEvent>();
    let mut guard = TerminalGuard::enter()?;
    let mut events = EventStream::new();
    // `kill` (TERM) or a closed SSH session (HUP) end the loop normally, so the guard
    // restores the terminal instead of leaving it in raw mode.
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    // Changed by a background event only: may wait for the next frame slot.
    let mut lazy = false;
    let mut last_draw = Instant::now();
    let mut report = None;
    loop {
        dispatch(&mut app, &tx);
        if app.should_quit() {
            break;
        }
        if lazy && !dirty && last_draw.elapsed() >= LAZY_FRAME {
            dirty = true;
        }
        if dirty {
            draw(&mut guard, &mut app)?;
            dirty = false;
            lazy = false;
            last_draw = Instant::now();
            let elapsed = started.elapsed();
            match hook {
                ExitHook::FirstFrame => report = Some(("first frame", elapsed)),
                ExitHook::Loaded if !app.busy() => report = Some(("all scans done", elapsed)),
                ExitHook::Panic => panic!("{EXIT_HOOK_ENV}=panic"),
                _ => {}
            }
            if report.is_some() {
                break;
            }
        }
        // Only armed while a lazy frame is pending, so an idle UI has no timer at all.
        let frame_slot = tokio::time::sleep_until((last_draw + LAZY_FRAME).into());
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => dirty |= on_terminal_event(&mut app, ev),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(ev) = rx.recv() => lazy |= app.handle_event(ev),
            _ = frame_slot, if lazy => {}
            _ = term.recv() => break,
            _ = hup.recv() => break,
        }
        let (keys, background) = drain(&mut app, &mut events, &mut rx).await?;
        dirty |= keys;
        lazy |= background;
    }
    drop(guard);
    if let Some((what, t)) = report {
        eprintln!("{what} after {:.1} ms", t.as_secs_f64() * 1000.0);
    }
    Ok(())
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
        // Focus, mouse (not enabled) and paste change nothing on screen.
        _ => false,
    }
}

/// Starts the app's queued commands on blocking threads; results come back over `tx`.
/// Directory walks, dry runs and moves block: they stay off the async workers and the
/// input path. A send fails only when the UI is quitting, so its result is ignored.
fn dispatch(app: &mut App, tx: &mpsc::UnboundedSender<AppEvent>) {
    for command in app.take_commands() {
        let tx = tx.clone();
        match command {
            Command::Scan(req) => {
                let ds = Arc::clone(&app.ds);
                tokio::task::spawn_blocking(move || {
                    scan_jobs::run(&ds, req, &mut |r| {
                        let _ = tx.send(AppEvent::Scan(r));
                    });
                });
            }
            Command::ListNamespaces => {
                let ds = Arc::clone(&app.ds);
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(AppEvent::Namespaces(list_all_namespaces(&ds)));
                });
            }
            Command::Plan { seq, spec } => {
                let ctx = app.ctx.clone();
                tokio::task::spawn_blocking(move || {
                    let outcome = super::preview::compute(&ctx, &spec);
                    let _ = tx.send(AppEvent::Plan { seq, outcome });
                });
            }
            Command::ListPending => {
                let ctx = app.ctx.clone();
                tokio::task::spawn_blocking(move || {
                    let pending = crate::ops::resume::pending(&ctx).map_err(|e| e.to_string());
                    let _ = tx.send(AppEvent::Pending(pending));
                });
            }
            Command::StartMove { id, spec, cancel } => {
                let ctx = app.ctx.clone();
                let emit: Emit = Arc::new(move |m| {
                    let _ = tx.send(AppEvent::Job(m));
                });
                tokio::task::spawn_blocking(move || run_job(&ctx, id, &spec, &cancel, &emit));
            }
        }
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
