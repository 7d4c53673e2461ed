//! Medians, spreads, percentiles and their formatting.

use std::time::Duration;

/// Nearest-rank percentile of sorted values.
pub fn pct(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Repeated measurements of one thing, in seconds (or any unit).
#[derive(Clone, Debug, Default)]
pub struct Series(pub Vec<f64>);

impl Series {
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    pub fn push_dur(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64());
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        if v.is_empty() {
            return None;
        }
        let m = v.len() / 2;
        Some(if v.len() % 2 == 1 {
            v[m]
        } else {
            (v[m - 1] + v[m]) / 2.0
        })
    }

    pub fn min(&self) -> Option<f64> {
        self.sorted().first().copied()
    }

    pub fn max(&self) -> Option<f64> {
        self.sorted().last().copied()
    }

    /// `median (min–max, n=N)` of seconds, as durations.
    pub fn fmt_secs(&self) -> String {
        match (self.median(), self.min(), self.max()) {
            (Some(m), Some(lo), Some(hi)) if self.0.len() > 1 => format!(
                "{} ({}–{}, n={})",
                secs(m),
                secs(lo),
                secs(hi),
                self.0.len()
            ),
            (Some(m), _, _) => format!("{} (n=1)", secs(m)),
            _ => "–".to_owned(),
        }
    }
}

/// A duration in seconds, in the unit that reads best.
pub fn secs(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// Microseconds, in the unit that reads best.
pub fn us(v: u64) -> String {
    secs(v as f64 / 1e6)
}

/// A ratio `a / b` as `12.3×`, or `–`.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a > 0.0 && (a / b).is_finite() => {
            let r = a / b;
            if r >= 100.0 {
                format!("{r:.0}×")
            } else if r >= 10.0 {
                format!("{r:.1}×")
            } else {
                format!("{r:.2}×")
            }
        }
        _ => "–".to_owned(),
    }
}

/// KiB as MiB.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `10000` as `10,000`.
pub fn thousands(n: usize) -> String {
    let d = n.to_string();
    let mut out = String::new();
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_medians() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(pct(&v, 50.0), Some(50));
        assert_eq!(pct(&v, 99.0), Some(99));
        assert_eq!(pct(&[7], 99.0), Some(7));
        assert_eq!(Series(vec![3.0, 1.0, 2.0]).median(), Some(2.0));
        assert_eq!(Series(vec![4.0, 1.0, 2.0, 3.0]).median(), Some(2.5));
        assert_eq!(ratio(Some(10.0), Some(2.0)), "5.00×");
    }
}
