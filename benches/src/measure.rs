//! What every workload measures: wall time, process CPU time (from
//! `/proc/self/stat`, no unsafe), resident memory, latency percentiles, and
//! the report printed as a table and, with `--json`, one JSON line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/self/stat` (USER_HZ: 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// Process CPU time (user + system) so far, in seconds.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / TICKS_PER_SEC
}

/// Resident set size now, in MiB (`VmRSS`).
pub fn rss_mib() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0.0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Lets the machine settle before a measured phase: writes every dirty page
/// back and waits for it (also what an earlier phase left in flight, even
/// for files since removed), then (as root) drops clean cached pages, so one
/// phase's writeback and page reclaim are not charged to the next and the
/// order of the phases does not decide the ratio.
pub fn settle() {
    rustix::fs::sync();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop_caches();
}

/// Writes dirty pages back and drops the page cache, so the next reads hit
/// the disk. Needs root; returns whether it worked.
pub fn drop_caches() -> bool {
    std::process::Command::new("sync").status().is_ok_and(|s| s.success())
        && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Wall and CPU time of one phase.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub wall: f64,
    pub cpu: f64,
}

/// Starts measuring a phase.
pub struct Stopwatch {
    start: Instant,
    cpu: f64,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch { start: Instant::now(), cpu: cpu_seconds() }
    }
    pub fn stop(&self) -> Phase {
        Phase { wall: self.start.elapsed().as_secs_f64(), cpu: cpu_seconds() - self.cpu }
    }
}

/// The `p` quantile (0..=1) of unsorted samples.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// MiB per second.
pub fn mib_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64 / secs.max(1e-9)
}

/// CPU seconds per GiB written.
pub fn cpu_per_gib(cpu: f64, bytes: u64) -> f64 {
    cpu / (bytes as f64 / (1u64 << 30) as f64).max(1e-9)
}

/// A result: named figures in order, printed as a table and as JSON.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<(&'static str, serde_json::Value, &'static str)>,
}

impl Report {
    /// Adds a figure with its unit (for the table).
    pub fn add(&mut self, name: &'static str, value: impl Into<serde_json::Value>, unit: &'static str) {
        self.rows.push((name, value.into(), unit));
    }

    /// Adds a float rounded to `digits` decimals.
    pub fn num(&mut self, name: &'static str, value: f64, digits: i32, unit: &'static str) {
        let m = 10f64.powi(digits);
        self.add(name, (value * m).round() / m, unit);
    }

    /// The median of each numeric figure over several runs of one workload
    /// (other figures from the first run), with the number of runs.
    pub fn median(runs: &[Report]) -> Report {
        let Some(first) = runs.first() else { return Report::default() };
        let mut out = Report::default();
        if runs.len() > 1 {
            out.add("runs", runs.len(), "(medians)");
        }
        for (i, (name, value, unit)) in first.rows.iter().enumerate() {
            let mut nums: Vec<f64> = runs.iter().filter_map(|r| r.rows.get(i)?.1.as_f64()).collect();
            let value = if value.is_number() && nums.len() == runs.len() && runs.len() > 1 {
                nums.sort_by(f64::total_cmp);
                let m = nums.len() / 2;
                let median = if nums.len() % 2 == 1 { nums[m] } else { (nums[m - 1] + nums[m]) / 2.0 };
                if value.is_u64() {
                    serde_json::json!(median.round() as u64)
                } else {
                    serde_json::json!((median * 1000.0).round() / 1000.0)
                }
            } else {
                value.clone()
            };
            out.rows.push((name, value, unit));
        }
        out
    }

    /// Prints the table, then (with `json`) the JSON object on the last line.
    pub fn print(&self, title: &str, json: bool) {
        println!("{title}");
        for (name, value, unit) in &self.rows {
            println!("  {name:<28} {value:>14} {unit}");
        }
        if json {
            let map: serde_json::Map<String, serde_json::Value> =
                self.rows.iter().map(|(n, v, _)| (n.to_string(), v.clone())).collect();
            println!("{}", serde_json::Value::Object(map));
        }
    }
}

/// The largest resident memory of this process (a server runs in it)
/// seen by another thread every `every`, from `start` to `stop`.
pub struct RssSampler {
    before: f64,
    peak: Arc<Mutex<f64>>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    /// Notes the resident memory now and starts sampling.
    pub fn start(every: Duration) -> RssSampler {
        let before = rss_mib();
        let peak = Arc::new(Mutex::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let r = rss_mib();
                    let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                    *p = p.max(r);
                    drop(p);
                    std::thread::sleep(every);
                }
            })
        };
        RssSampler { before, peak, done, thread: Some(thread) }
    }

    /// Stops; (the value before, the largest value seen, also now).
    pub fn stop(mut self) -> (f64, f64) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let peak = self.peak.lock().unwrap_or_else(|e| e.into_inner()).max(rss_mib());
        (self.before, peak)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_seconds();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert_ne!(x, 1);
        let spent = cpu_seconds() - before;
        assert!(spent >= 0.1, "cpu time {spent}");
        assert!(rss_mib() > 0.0);
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&mut v, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&mut [], 0.5), Duration::ZERO);
    }
}
