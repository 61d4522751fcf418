//! The async loop: waits for input or scan results, updates the app, redraws only when
//! something changed. Idle, it sleeps in `select!`: no timer, no CPU, no bytes written.

use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use crossterm::event::{Event, EventStream};
use crossterm::{execute, terminal};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::app::{App, AppEvent, Command};
use super::scan_jobs::{self, ScanResult};
use super::terminal::TerminalGuard;
use super::view;

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
    let (tx, mut rx) = mpsc::unbounded_channel::<ScanResult>();
    let mut guard = TerminalGuard::enter()?;
    let mut events = EventStream::new();
    // `kill` (TERM) or a closed SSH session (HUP) end the loop normally, so the guard
    // restores the terminal instead of leaving it in raw mode.
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut dirty = true;
    let mut report = None;
    loop {
        dispatch(&mut app, &tx);
        if app.should_quit() {
            break;
        }
        if dirty {
            draw(&mut guard, &mut app)?;
            dirty = false;
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
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => dirty |= on_terminal_event(&mut app, ev),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(result) = rx.recv() => dirty |= app.handle_event(AppEvent::Scan(result)),
            _ = term.recv() => break,
            _ = hup.recv() => break,
        }
        dirty |= drain(&mut app, &mut events, &mut rx).await?;
    }
    drop(guard);
    if let Some((what, t)) = report {
        eprintln!("{what} after {:.1} ms", t.as_secs_f64() * 1000.0);
    }
    Ok(())
}

/// Applies everything that is already waiting, so a burst (key repeat, many scan batches)
/// costs one frame instead of one per event.
async fn drain(
    app: &mut App,
    events: &mut EventStream,
    rx: &mut mpsc::UnboundedReceiver<ScanResult>,
) -> anyhow::Result<bool> {
    let mut dirty = false;
    while let Ok(result) = rx.try_recv() {
        dirty |= app.handle_event(AppEvent::Scan(result));
    }
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
        Poll::Ready(Ok(dirty))
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
fn dispatch(app: &mut App, tx: &mpsc::UnboundedSender<ScanResult>) {
    for command in app.take_commands() {
        match command {
            Command::Scan(req) => {
                let ds = Arc::clone(&app.ds);
                let tx = tx.clone();
                // Directory walks block; keep them off the async workers and the input path.
                tokio::task::spawn_blocking(move || {
                    scan_jobs::run(&ds, req, &mut |r| {
                        // The receiver is gone only when the UI is quitting.
                        let _ = tx.send(r);
                    });
                });
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
