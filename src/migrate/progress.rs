//! Progress of a migration, per kind: bars with done/total, rate and ETA on
//! a terminal (indicatif, on stderr), plain log lines every few seconds
//! anywhere else.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is printed at most.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// Where progress goes.
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Progress {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// The progress of one kind (`label`), `done` items done already.
    pub fn bar(&self, label: &str, done: u64) -> Bar {
        let bar = self.multi.as_ref().map(|m| {
            let style = ProgressStyle::with_template(
                "{prefix:>14} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let b = m.add(ProgressBar::no_length().with_style(style));
            b.set_prefix(label.to_string());
            b.set_position(done);
            b
        });
        Bar {
            label: label.to_string(),
            bar,
            plain: Mutex::new(Plain {
                started: Instant::now(),
                printed: Instant::now(),
                done,
                first: done,
                total: None,
            }),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

struct Plain {
    started: Instant,
    printed: Instant,
    done: u64,
    first: u64,
    total: Option<u64>,
}

impl Plain {
    fn line(&self, label: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.done - self.first) as f64 / secs;
        match self.total {
            Some(t) if rate > 0.0 && t >= self.done => format!(
                "migrate {label}: {}/{t} ({rate:.0}/s, eta {:.0}s)",
                self.done,
                (t - self.done) as f64 / rate
            ),
            Some(t) => format!("migrate {label}: {}/{t} ({rate:.0}/s)", self.done),
            None => format!("migrate {label}: {} ({rate:.0}/s)", self.done),
        }
    }
}

/// The progress of one kind.
pub struct Bar {
    label: String,
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
}

impl Bar {
    /// How many items there are in all, when known.
    pub fn set_total(&self, total: Option<u64>) {
        if let Some(b) = &self.bar {
            if let Some(t) = total {
                b.set_length(t);
            }
        }
        if let Ok(mut p) = self.plain.lock() {
            p.total = total;
        }
    }

    /// `n` more items done.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
            return;
        }
        let Ok(mut p) = self.plain.lock() else { return };
        p.done += n;
        if p.printed.elapsed() >= PLAIN_EVERY {
            p.printed = Instant::now();
            eprintln!("{}", p.line(&self.label));
        }
    }

    /// The kind is over: `summary` says how it went.
    pub fn finish(&self, summary: &str) {
        match &self.bar {
            Some(b) => b.finish_with_message(summary.to_string()),
            None => eprintln!("migrate {}: {summary}", self.label),
        }
    }
}
