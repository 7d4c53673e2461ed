//! An image pull's progress: per layer its status and bytes, shown as bars
//! on a terminal (redrawn in place, as `docker pull` does) and as log lines
//! otherwise (one per layer when it is done, a summary every 2 seconds).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bytes as megabytes.
#[allow(clippy::cast_precision_loss)]
fn mb(bytes: i64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Layer {
    status: String,
    current: i64,
    total: i64,
}

impl Layer {
    fn done(&self) -> bool {
        matches!(self.status.as_str(), "Pull complete" | "Already exists")
    }
}

/// The layers of one image's pull, in the order the daemon named them.
#[derive(Debug)]
pub struct PullProgress {
    image: String,
    order: Vec<String>,
    layers: BTreeMap<String, Layer>,
    last_summary: Instant,
    last_draw: Option<Instant>,
    terminal: bool,
}

/// Lines the bars took on the terminal at their last drawing, so that the
/// next drawing starts where they began. One board for every pull at once.
static BOARD: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());
static DRAWN: Mutex<usize> = Mutex::new(0);

impl PullProgress {
    /// Bars when standard error is a terminal, log lines otherwise.
    #[must_use]
    pub fn new(image: &str) -> Self {
        Self::with_terminal(image, std::io::stderr().is_terminal())
    }

    fn with_terminal(image: &str, terminal: bool) -> Self {
        Self {
            image: image.to_owned(),
            order: Vec::new(),
            layers: BTreeMap::new(),
            last_summary: Instant::now(),
            last_draw: None,
            terminal,
        }
    }

    /// One message of the daemon's pull stream about `layer`.
    pub fn update(&mut self, layer: &str, status: &str, current: Option<i64>, total: Option<i64>) {
        if !self.layers.contains_key(layer) {
            self.order.push(layer.to_owned());
        }
        let l = self.layers.entry(layer.to_owned()).or_default();
        if status == "Downloading" {
            l.current = current.unwrap_or(l.current);
            l.total = total.unwrap_or(l.total);
        }
        if l.status != status {
            tracing::debug!(image = %self.image, %layer, %status, "pull");
            l.status = status.to_owned();
            if l.done() {
                l.current = l.total;
                if !self.terminal {
                    tracing::info!(image = %self.image, %layer, mb = format!("{:.1}", mb(l.total)), "pull: layer {status}");
                }
            }
        }
        if self.terminal {
            if self
                .last_draw
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100))
            {
                self.draw();
            }
        } else if self.last_summary.elapsed() >= Duration::from_secs(2) {
            self.last_summary = Instant::now();
            tracing::info!(image = %self.image, "pull: {}", self.summary());
        }
    }

    /// `3/5 layers, 12.0/40.5 MB`.
    #[must_use]
    pub fn summary(&self) -> String {
        let done = self.layers.values().filter(|l| l.done()).count();
        let (have, total) = self
            .layers
            .values()
            .fold((0, 0), |a, l| (a.0 + l.current, a.1 + l.total));
        format!(
            "{done}/{} layers, {:.1}/{:.1} MB",
            self.layers.len(),
            mb(have),
            mb(total)
        )
    }

    /// The bars: a line for the image, then one per layer.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("pulling {}: {}", self.image, self.summary())];
        for id in &self.order {
            let l = &self.layers[id];
            let short: String = id.chars().take(12).collect();
            let bar = if l.total > 0 {
                let width = 30;
                let filled =
                    usize::try_from((l.current.clamp(0, l.total) * width) / l.total).unwrap_or(0);
                let w = usize::try_from(width).unwrap_or(30);
                format!(
                    "[{}{}] {:.1}/{:.1} MB",
                    "=".repeat(filled),
                    " ".repeat(w - filled),
                    mb(l.current),
                    mb(l.total)
                )
            } else {
                String::new()
            };
            out.push(
                format!("  {short} {:<16} {bar}", l.status)
                    .trim_end()
                    .to_owned(),
            );
        }
        out
    }

    /// Redraw every pull's bars in place.
    fn draw(&mut self) {
        self.last_draw = Some(Instant::now());
        let mut board = BOARD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        board.insert(self.image.clone(), self.lines());
        let mut drawn = DRAWN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let text = redraw(*drawn, board.values().flatten());
        *drawn = board.values().map(Vec::len).sum();
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// The pull ended: the bars drawn a last time and left on the terminal
    /// (or the summary logged).
    pub fn finish(mut self) {
        if self.terminal {
            self.draw();
            let mut board = BOARD
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mine = board.remove(&self.image).map_or(0, |l| l.len());
            // What stays on the terminal is no longer redrawn.
            let mut drawn = DRAWN
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if board.is_empty() {
                *drawn = 0;
            } else {
                *drawn = drawn.saturating_sub(mine);
            }
        }
        tracing::info!(image = %self.image, "pull: done, {}", self.summary());
    }
}

/// The terminal text that moves the cursor up over `drawn` lines and writes
/// `lines` in their place, each line cleared first.
fn redraw<'a>(drawn: usize, lines: impl Iterator<Item = &'a String>) -> String {
    let mut s = String::new();
    if drawn > 0 {
        s.push_str(&format!("\x1b[{drawn}A"));
    }
    for l in lines {
        s.push_str("\r\x1b[2K");
        s.push_str(l);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_as_bars_and_summary() {
        let mut p = PullProgress::with_terminal("valkey/valkey:8.0-alpine", false);
        p.update("sha256:aaaaaaaaaaaaaaaa", "Pulling fs layer", None, None);
        p.update(
            "bbbbbbbbbbbbbbbb",
            "Downloading",
            Some(5_000_000),
            Some(10_000_000),
        );
        p.update(
            "sha256:aaaaaaaaaaaaaaaa",
            "Downloading",
            Some(1_000_000),
            Some(1_000_000),
        );
        p.update("sha256:aaaaaaaaaaaaaaaa", "Pull complete", None, None);
        assert_eq!(p.summary(), "1/2 layers, 6.0/11.0 MB");
        let lines = p.lines();
        assert_eq!(
            lines[0],
            "pulling valkey/valkey:8.0-alpine: 1/2 layers, 6.0/11.0 MB"
        );
        assert_eq!(
            lines[1],
            format!(
                "  sha256:aaaaa Pull complete    [{}] 1.0/1.0 MB",
                "=".repeat(30)
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "  bbbbbbbbbbbb Downloading      [{}{}] 5.0/10.0 MB",
                "=".repeat(15),
                " ".repeat(15)
            )
        );
    }

    #[test]
    fn a_layer_without_size_has_no_bar() {
        let mut p = PullProgress::with_terminal("redis:7.0", false);
        p.update("cccc", "Waiting", None, None);
        assert_eq!(p.lines()[1], "  cccc Waiting");
    }

    #[test]
    fn redraw_goes_back_over_what_it_drew() {
        let lines = ["a".to_owned(), "b".to_owned()];
        assert_eq!(redraw(0, lines.iter()), "\r\x1b[2Ka\n\r\x1b[2Kb\n");
        assert_eq!(redraw(2, lines.iter()), "\x1b[2A\r\x1b[2Ka\n\r\x1b[2Kb\n");
    }
}
