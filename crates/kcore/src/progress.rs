//! Progress on stderr for long work, shared by every tool: a live status line redrawn
//! on a terminal (kprod, kcons), a spinner while waiting for the cluster (ktopic,
//! kgroup), and nothing at all in pipes.
//!
//! The line is drawn by a thread of its own from counters the tool keeps anyway, at most
//! ten times a second: the tool's hot path never formats or writes anything for it.
//! Nothing is shown for work that ends within [`DELAY`], unless `--progress` asks for it.
//! Data never goes here: stdout stays exactly what it is without a terminal.

use std::io::IsTerminal;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work that ends sooner shows nothing on a terminal (unless `--progress` asks).
pub const DELAY: Duration = Duration::from_secs(1);
/// How often the live line is redrawn.
pub const REDRAW: Duration = Duration::from_millis(100);
/// How often a plain line is printed when `--progress` is given and stderr is not a
/// terminal (a log file): often enough to see work going on, rarely enough to read.
pub const LINE_PERIOD: Duration = Duration::from_secs(5);

/// `--progress` / `--no-progress`, for the tools that stream data (kprod, kcons).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ProgressArgs {
    /// Show progress on stderr even when it is not a terminal (then a plain line every 5 s), and for short runs
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,

    /// Never show progress on stderr (by default it is shown on a terminal, for runs longer than a second)
    #[arg(long = "no-progress", overrides_with = "progress")]
    pub no_progress: bool,
}

impl ProgressArgs {
    /// How to show progress. `data_on_terminal`: the tool's own data is on the terminal
    /// too (lines typed on stdin, records printed on stdout), where a line redrawn under
    /// it would garble both: then only `--progress` shows it.
    pub fn mode(&self, data_on_terminal: bool) -> Mode {
        let terminal = stderr_redraws();
        if self.no_progress {
            Mode::OFF
        } else if self.progress {
            Mode {
                draw: if terminal { Draw::Live } else { Draw::Lines },
                forced: true,
            }
        } else if terminal && !data_on_terminal {
            Mode {
                draw: Draw::Live,
                forced: false,
            }
        } else {
            Mode::OFF
        }
    }
}

/// Whether stderr is a terminal a line can be redrawn on.
fn stderr_redraws() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Draw {
    Off,
    /// One line redrawn in place (a terminal).
    Live,
    /// A plain line now and then (`--progress` into a file or pipe).
    Lines,
}

/// Where and how progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    draw: Draw,
    /// Asked for with `--progress`: shown from the start, and the summary always.
    forced: bool,
}

impl Mode {
    pub const OFF: Mode = Mode {
        draw: Draw::Off,
        forced: false,
    };

    /// A spinner's mode: on a terminal only.
    pub fn terminal() -> Mode {
        if stderr_redraws() {
            Mode {
                draw: Draw::Live,
                forced: false,
            }
        } else {
            Mode::OFF
        }
    }

    pub fn is_off(&self) -> bool {
        self.draw == Draw::Off
    }
}

/// The live line being drawn, if any, so that messages can be printed around it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    ACTIVE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Run `print` (which writes whole lines to stderr) with the live line out of its way:
/// cleared first, redrawn after. Every message on stderr goes through it
/// ([`crate::report_error`] does).
pub fn suspend<R>(print: impl FnOnce() -> R) -> R {
    let bar = active().clone();
    match bar {
        Some(bar) => bar.suspend(print),
        None => print(),
    }
}

/// A status line made of parts, each with how useful it is: on a terminal too narrow for
/// all of them, the least useful go first ([`Line::fit`]), so that what matters most (how
/// many records, how far to the end, when) is never what the terminal cuts off.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Line {
    /// (text, with its separator from the part before; usefulness: higher stays longer)
    parts: Vec<(String, u8)>,
}

impl Line {
    pub fn new() -> Line {
        Line::default()
    }

    /// Add `text` (after `separator`, such as "; " or ", ", unless it comes first).
    pub fn part(mut self, separator: &str, text: impl AsRef<str>, usefulness: u8) -> Line {
        let text = text.as_ref();
        let joined = if self.parts.is_empty() {
            text.to_string()
        } else {
            format!("{separator}{text}")
        };
        self.parts.push((joined, usefulness));
        self
    }

    /// Add `text` when there is one (a rate not measured yet is left out, not shown as 0).
    pub fn maybe(self, separator: &str, text: Option<String>, usefulness: u8) -> Line {
        match text {
            Some(text) => self.part(separator, text, usefulness),
            None => self,
        }
    }

    /// The line in at most `width` characters: the least useful parts dropped first (the
    /// later of equally useful ones), and only the most useful one cut if it alone is wider.
    pub fn fit(&self, width: usize) -> String {
        let mut kept: Vec<bool> = vec![true; self.parts.len()];
        let mut order: Vec<usize> = (0..self.parts.len()).collect();
        order.sort_by_key(|&i| (self.parts[i].1, std::cmp::Reverse(i)));
        for &drop in &order {
            if self.text(&kept).chars().count() <= width || kept.iter().filter(|k| **k).count() <= 1
            {
                break;
            }
            kept[drop] = false;
        }
        self.text(&kept).chars().take(width).collect()
    }

    fn text(&self, kept: &[bool]) -> String {
        let mut line = String::new();
        for ((text, _), _) in self.parts.iter().zip(kept).filter(|(_, keep)| **keep) {
            if line.is_empty() {
                // The first part shown needs no separator before it.
                line.push_str(text.trim_start_matches([';', ',', ' ']));
            } else {
                line.push_str(text);
            }
        }
        line
    }
}

/// A plain line: one part, cut at the terminal's width.
impl From<String> for Line {
    fn from(text: String) -> Line {
        Line::new().part("", text, 1)
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(&vec![true; self.parts.len()]))
    }
}

/// The width of the terminal on stderr, if it is one.
fn stderr_width() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stderr()).map(|(w, _)| w.0 as usize)
}

/// A status line on stderr, kept up to date by its own thread from what `render`
/// returns (called at most every [`REDRAW`], never by the tool's own loop).
pub struct Status {
    tool: &'static str,
    mode: Mode,
    started: Instant,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<bool>>,
}

impl Status {
    /// Start showing `render(elapsed)` as `mode` says (nothing when it is off).
    pub fn start<L: Into<Line>>(
        tool: &'static str,
        mode: Mode,
        mut render: impl FnMut(Duration) -> L + Send + 'static,
    ) -> Status {
        let started = Instant::now();
        let (stop, stopped) = channel::<()>();
        let thread = (!mode.is_off()).then(|| {
            std::thread::Builder::new()
                .name("progress".into())
                .spawn(move || draw(tool, mode, started, move |d| render(d).into(), &stopped))
                .expect("spawning the progress thread")
        });
        Status {
            tool,
            mode,
            started,
            stop: Some(stop),
            thread,
        }
    }

    /// A spinner with `what` and the time spent so far, on a terminal after [`DELAY`].
    pub fn spinner(tool: &'static str, what: impl Into<String>) -> Status {
        let what = what.into();
        Status::start(tool, Mode::terminal(), move |elapsed| {
            Line::new()
                .part("", &what, 2)
                .part(" ", format!("({})", duration(elapsed)), 1)
        })
    }

    /// Stop and clear the line; whether it was ever shown.
    fn stop(&mut self) -> bool {
        drop(self.stop.take());
        self.thread
            .take()
            .is_some_and(|thread| thread.join().unwrap_or(false))
    }

    /// Stop, clear the line, and print `summary(elapsed)` in its place as one line
    /// `tool: summary`, if the line was shown (or `--progress` asked for it).
    pub fn finish(mut self, summary: impl FnOnce(Duration) -> String) {
        let shown = self.stop();
        if shown || (self.mode.forced && !self.mode.is_off()) {
            eprintln!("{}: {}", self.tool, summary(self.started.elapsed()));
        }
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The progress thread: wait out the delay, then draw until told to stop (the sender
/// dropped). Returns whether anything was shown.
fn draw(
    tool: &'static str,
    mode: Mode,
    started: Instant,
    mut render: impl FnMut(Duration) -> Line,
    stopped: &std::sync::mpsc::Receiver<()>,
) -> bool {
    let wait = |until: Instant| -> bool {
        // True once the owner says stop.
        let left = until.saturating_duration_since(Instant::now());
        !matches!(stopped.recv_timeout(left), Err(RecvTimeoutError::Timeout))
    };
    if mode.draw != Draw::Off {
        // A first sample for the rates, so that the first line drawn has a rate measured
        // since the start instead of none (or a 0 from a single sample).
        render(Duration::ZERO);
    }
    match mode.draw {
        Draw::Off => false,
        Draw::Lines => {
            let mut next = started + LINE_PERIOD;
            let mut shown = false;
            while !wait(next) {
                eprintln!("{tool}: {}", render(started.elapsed()));
                shown = true;
                next += LINE_PERIOD;
            }
            shown
        }
        Draw::Live => {
            if !mode.forced && wait(started + DELAY) {
                return false;
            }
            let bar = live_bar();
            *active() = Some(bar.clone());
            let mut next = Instant::now();
            loop {
                let line = render(started.elapsed());
                // The spinner and its space take two columns; the cursor needs one more.
                let width = stderr_width().unwrap_or(80).saturating_sub(3).max(10);
                bar.set_message(line.fit(width));
                bar.tick();
                next += REDRAW;
                if wait(next) {
                    break;
                }
            }
            active().take();
            bar.finish_and_clear();
            true
        }
    }
}

/// A one-line spinner on stderr, cut to the terminal's width, coloured unless `NO_COLOR`.
fn live_bar() -> ProgressBar {
    const TICKS: [&str; 11] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", " "];
    let colour = crate::use_colour(&std::io::stderr());
    let coloured: Vec<String> = TICKS
        .iter()
        .map(|tick| {
            if colour && !tick.trim().is_empty() {
                format!("\x1b[36m{tick}\x1b[0m")
            } else {
                tick.to_string()
            }
        })
        .collect();
    let ticks: Vec<&str> = coloured.iter().map(String::as_str).collect();
    let style = ProgressStyle::with_template("{spinner} {wide_msg}")
        .expect("a valid template")
        .tick_strings(&ticks);
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(20));
    bar.set_style(style);
    bar
}

/// A rate over the last couple of seconds, from samples of a growing count.
pub struct Rate {
    samples: std::collections::VecDeque<(Instant, u64)>,
    window: Duration,
}

impl Default for Rate {
    fn default() -> Self {
        Rate::new(Duration::from_secs(2))
    }
}

impl Rate {
    pub fn new(window: Duration) -> Rate {
        Rate {
            samples: std::collections::VecDeque::new(),
            window,
        }
    }

    /// Record `count` as of now; the count's growth per second over the window, None
    /// until there is a span to measure it over (a first frame shows no rate rather than 0).
    pub fn per_second(&mut self, count: u64) -> Option<f64> {
        let now = Instant::now();
        self.samples.push_back((now, count));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= self.window {
            self.samples.pop_front();
        }
        let (then, before) = self.samples[0];
        let seconds = now.duration_since(then).as_secs_f64();
        if seconds < 0.05 {
            return None;
        }
        Some(count.saturating_sub(before) as f64 / seconds)
    }
}

/// `1234567` as `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    // The first group takes what is left over from groups of three.
    let first = match digits.len() % 3 {
        0 => 3,
        short => short,
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    out.push_str(&digits[..first]);
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// A rate (of records per second): `312,500`, or `2.5` below ten.
pub fn rate(per_second: f64) -> String {
    if per_second < 10.0 {
        format!("{per_second:.1}")
    } else {
        count(per_second.round() as u64)
    }
}

/// Bytes per second as `31.3 MB/s` (decimal megabytes, as `pv -b` and Kafka's perf tools).
pub fn megabytes_per_second(bytes_per_second: f64) -> String {
    format!("{:.1} MB/s", bytes_per_second / 1e6)
}

/// A duration as people read it: `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        let whole = secs as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        let whole = secs as u64;
        format!("{} h {:02} min", whole / 3600, whole / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(100000), "100,000");
    }

    #[test]
    fn rates_and_durations_read_well() {
        assert_eq!(rate(3.25), "3.2");
        assert_eq!(rate(312_500.4), "312,500");
        assert_eq!(megabytes_per_second(31_250_000.0), "31.2 MB/s");
        assert_eq!(duration(Duration::from_millis(3210)), "3.2 s");
        assert_eq!(duration(Duration::from_secs(245)), "4 min 05 s");
        assert_eq!(duration(Duration::from_secs(7380)), "2 h 03 min");
    }

    #[test]
    fn a_rate_follows_the_recent_growth() {
        let mut rate = Rate::new(Duration::from_millis(200));
        assert_eq!(rate.per_second(0), None, "no rate before there is a span");
        std::thread::sleep(Duration::from_millis(100));
        let r = rate.per_second(100).unwrap();
        assert!((500.0..=1000.0).contains(&r), "{r}");
    }

    #[test]
    fn a_narrow_terminal_drops_the_least_useful_parts_first() {
        let line = Line::new()
            .part("", "5,125,941 records", 9)
            .part("; ", "312,500 records/s", 5)
            .part(", ", "31.2 MB/s", 4)
            .part("; ", "40% of 12,000,000 to the end", 8)
            .part(", ", "ETA 1 min 05 s", 7);
        let all = "5,125,941 records; 312,500 records/s, 31.2 MB/s; 40% of 12,000,000 to the end, ETA 1 min 05 s";
        assert_eq!(line.to_string(), all);
        assert_eq!(line.fit(200), all);
        assert_eq!(
            line.fit(85),
            "5,125,941 records; 312,500 records/s; 40% of 12,000,000 to the end, ETA 1 min 05 s"
        );
        assert_eq!(
            line.fit(70),
            "5,125,941 records; 40% of 12,000,000 to the end, ETA 1 min 05 s"
        );
        assert_eq!(line.fit(30), "5,125,941 records");
        assert_eq!(line.fit(5), "5,125");
        // A first part dropped takes no separator with it onto the next.
        let line = Line::new().part("", "a a a a", 1).part(", ", "b", 2);
        assert_eq!(line.fit(4), "b");
    }

    #[test]
    fn off_shows_nothing_and_finishes_quietly() {
        let status = Status::start("t", Mode::OFF, |_| -> Line {
            unreachable!("never rendered")
        });
        status.finish(|_| unreachable!("no summary when off"));
    }

    #[test]
    fn nothing_is_drawn_for_work_shorter_than_the_delay() {
        // Not forced: the thread waits out the delay and stops without drawing.
        let mode = Mode {
            draw: Draw::Live,
            forced: false,
        };
        let mut status = Status::start("t", mode, |_| -> Line { unreachable!("not rendered yet") });
        assert!(!status.stop());
    }
}
