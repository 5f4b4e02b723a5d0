//! Progress on stderr for long runs: bytes (or rows) done of the total when known, rows, rate and ETA. Shown
//! only when stderr is a terminal and `--quiet` is not given, and cleared when the run ends, so stdout keeps
//! only the JSON summary and piped output is what it always was.

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a bar counts.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// Input bytes, with a live row count beside them.
    Bytes,
    /// Rows.
    Rows,
}

/// A bar for `total` units (a spinner when the total is unknown), hidden unless stderr is a terminal and
/// `quiet` is off. `rows` is read at each redraw.
pub fn bar(
    what: &str,
    unit: Unit,
    total: Option<u64>,
    rows: Arc<AtomicU64>,
    quiet: bool,
) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let template = match (unit, total) {
        (Unit::Bytes, Some(_)) => {
            "{msg} [{bar:30}] {bytes}/{total_bytes} · {rows} rows · {binary_bytes_per_sec} · ETA {eta}"
        }
        (Unit::Bytes, None) => "{spinner} {msg} {bytes} · {rows} rows · {binary_bytes_per_sec}",
        (Unit::Rows, Some(_)) => "{msg} [{bar:30}] {rows}/{len} rows · {per_sec} · ETA {eta}",
        (Unit::Rows, None) => "{spinner} {msg} {rows} rows · {elapsed}",
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rows",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", rows.load(Ordering::Relaxed));
            },
        )
        .progress_chars("=> ");
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    }
    .with_style(style)
    .with_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Moves `bar` to the count in `done` until the bar is finished (for work that reports a counter, not reads).
pub fn follow(bar: &ProgressBar, done: Arc<AtomicU64>) {
    if bar.is_hidden() {
        return;
    }
    let bar = bar.clone();
    std::thread::spawn(move || {
        while !bar.is_finished() {
            bar.set_position(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}
