//! How many requests a copy or a delete keeps in flight: a window that grows while the
//! server answers more requests per second with it and halves at once when the server
//! throttles (503 SlowDown, 429). The server, not a constant, decides: SeaweedFS on two
//! loaded cores is saturated far below a large AWS bucket, and a server that throttles is
//! asking for less. A slower epoch alone does not shrink it: on a shared machine the rate
//! swings with the load, and following every dip down (an earlier version shrank by a
//! quarter on a 20 % drop) walked the window down to a third of its best within one batch.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;

/// Throttling answers (503, 429) the client has seen, retried ones included; shared by
/// the client's interceptor, which counts, and the windows, which back off.
#[derive(Debug, Clone, Default)]
pub struct Throttles(Arc<AtomicU64>);

impl Throttles {
    pub fn seen(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A rate must beat the best one by this factor to count as better.
const BETTER: f64 = 1.1;
/// Epochs without a change after which the window tries a little more again.
const PROBE_AFTER: u32 = 4;
/// An epoch shorter than this measures noise, not the server.
const MIN_EPOCH: Duration = Duration::from_millis(20);

/// The window's limit and what it measured.
#[derive(Debug, Clone)]
pub struct Window {
    limit: usize,
    min: usize,
    max: usize,
    /// Doubling until the rate stops improving, then steps of a quarter.
    slow_start: bool,
    /// Completions in the current epoch (one window's worth of requests) and its start.
    done: usize,
    started: Instant,
    /// Best requests/s measured since the last change of direction.
    best: Option<f64>,
    steady: u32,
    /// The limit before a probe (a step up after steady epochs), until its epoch is judged.
    probe_from: Option<usize>,
    throttles: u64,
    /// Largest and smallest limit reached (for tests and diagnostics).
    peak: usize,
    lowest: usize,
    backoffs: u32,
}

impl Window {
    /// Starts at `initial` (at most `max`), never below `min(4, max)`.
    pub fn new(initial: usize, max: usize, throttles: u64) -> Self {
        let max = max.max(1);
        let limit = initial.clamp(1, max);
        Self {
            limit,
            min: 4.min(max),
            max,
            slow_start: true,
            done: 0,
            started: Instant::now(),
            best: None,
            steady: 0,
            probe_from: None,
            throttles,
            peak: limit,
            lowest: limit,
            backoffs: 0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn peak(&self) -> usize {
        self.peak
    }

    pub fn lowest(&self) -> usize {
        self.lowest
    }

    /// Times the window halved for throttling.
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// Starts a new measurement (a new batch: the time between batches is not the server's).
    pub fn restart(&mut self, now: Instant) {
        self.done = 0;
        self.started = now;
    }

    /// One request answered at `now`; `throttles` is the client's count so far.
    pub fn completed(&mut self, now: Instant, throttles: u64) {
        if throttles > self.throttles {
            self.throttles = throttles;
            self.limit = (self.limit / 2).max(self.min);
            self.lowest = self.lowest.min(self.limit);
            self.slow_start = false;
            self.best = None;
            self.probe_from = None;
            self.backoffs += 1;
            self.restart(now);
            return;
        }
        self.done += 1;
        let elapsed = now.saturating_duration_since(self.started);
        if self.done < self.limit || elapsed < MIN_EPOCH {
            return;
        }
        let rate = self.done as f64 / elapsed.as_secs_f64();
        let probed = self.probe_from.take();
        match self.best {
            Some(best) if rate < best * BETTER => {
                self.slow_start = false;
                if let Some(before) = probed {
                    // The probe bought nothing: back to where it was (never below it).
                    self.limit = before;
                }
                self.steady += 1;
                if self.steady >= PROBE_AFTER {
                    self.steady = 0;
                    self.probe_from = Some(self.limit);
                    self.grow();
                }
            }
            _ => {
                self.best = Some(rate);
                self.steady = 0;
                self.probe_from = Some(self.limit);
                self.grow();
            }
        }
        self.restart(now);
    }

    fn grow(&mut self) {
        let step = if self.slow_start {
            self.limit
        } else {
            (self.limit / 4).max(1)
        };
        self.limit = (self.limit + step).min(self.max);
        self.peak = self.peak.max(self.limit);
    }
}

/// Runs `run` for every item with as many in flight as `window` allows, adjusting it after
/// each answer, and hands each result to `each` as it comes; once `each` says stop, no new
/// item starts but the ones in flight are waited for (a copy still running on the server
/// could otherwise outlive the removal of the batch's copies).
pub async fn windowed<T, R, F, Fut>(
    window: &mut Window,
    throttles: &Throttles,
    items: Vec<T>,
    run: F,
    mut each: impl FnMut(R) -> bool,
) where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R>,
{
    window.restart(Instant::now());
    let mut pending = items.into_iter();
    let mut running = FuturesUnordered::new();
    let mut go_on = true;
    loop {
        while go_on && running.len() < window.limit() {
            match pending.next() {
                Some(item) => running.push(run(item)),
                None => break,
            }
        }
        let Some(r) = running.next().await else {
            return;
        };
        window.completed(Instant::now(), throttles.seen());
        go_on &= each(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds one epoch of `n` completions spread over `ms` milliseconds.
    fn epoch(w: &mut Window, t: &mut Instant, n: usize, ms: u64, throttles: u64) {
        for _ in 0..n {
            *t += Duration::from_micros(ms * 1000 / n as u64);
            w.completed(*t, throttles);
        }
    }

    #[test]
    fn grows_while_the_rate_improves_and_goes_back_when_it_does_not() {
        let mut w = Window::new(8, 256, 0);
        let mut t = Instant::now();
        w.restart(t);
        // The rate doubles with the window: slow start doubles it.
        epoch(&mut w, &mut t, 8, 100, 0);
        assert_eq!(w.limit(), 16);
        epoch(&mut w, &mut t, 16, 100, 0);
        assert_eq!(w.limit(), 32);
        // Same rate at 32 as at 16 (the server is saturated): back to 16.
        epoch(&mut w, &mut t, 32, 200, 0);
        assert_eq!(w.limit(), 16);
        // After a few steady epochs it probes a quarter more; no better: back again.
        for _ in 0..PROBE_AFTER - 1 {
            epoch(&mut w, &mut t, 16, 100, 0);
        }
        assert_eq!(w.limit(), 20);
        epoch(&mut w, &mut t, 20, 125, 0);
        assert_eq!(w.limit(), 16);
        // Much slower now (the machine is busy): hold, only throttling shrinks it.
        epoch(&mut w, &mut t, 16, 1000, 0);
        assert_eq!(w.limit(), 16);
        // A probe that pays is kept, and the next step tried.
        for _ in 0..PROBE_AFTER - 2 {
            epoch(&mut w, &mut t, 16, 100, 0);
        }
        assert_eq!(w.limit(), 20);
        epoch(&mut w, &mut t, 20, 50, 0);
        assert_eq!(w.limit(), 25);
        assert_eq!(w.peak(), 32);
    }

    #[test]
    fn halves_on_throttling_and_never_passes_its_bounds() {
        let mut w = Window::new(64, 128, 0);
        let mut t = Instant::now();
        w.restart(t);
        epoch(&mut w, &mut t, 1, 1, 3);
        assert_eq!((w.limit(), w.backoffs()), (32, 1));
        for _ in 0..10 {
            let more = w.throttles + 1;
            epoch(&mut w, &mut t, 1, 1, more);
        }
        assert_eq!((w.limit(), w.lowest()), (4, 4), "never below the floor");
        // Each epoch answers its whole window in 25 ms: more in flight, more per second.
        for _ in 0..60 {
            let n = w.limit();
            let same = w.throttles;
            epoch(&mut w, &mut t, n, 25, same);
        }
        assert_eq!(w.peak(), 128, "up to the configured maximum, never above");
        assert!(w.limit() > 100, "{w:?}");
        assert_eq!(Window::new(32, 1, 0).limit(), 1);
    }

    #[test]
    fn windowed_runs_everything_and_stops_starting_after_stop() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let throttles = Throttles::default();
        let mut w = Window::new(2, 8, 0);
        let mut seen = Vec::new();
        rt.block_on(windowed(
            &mut w,
            &throttles,
            (0..100).collect(),
            |i: u32| async move { i },
            |i| {
                seen.push(i);
                true
            },
        ));
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        let mut n = 0;
        rt.block_on(windowed(
            &mut w,
            &throttles,
            (0..100).collect(),
            |i: u32| async move { i },
            |_| {
                n += 1;
                n < 3
            },
        ));
        assert!(n < 3 + 8, "at most a window's worth after the stop: {n}");
    }
}
