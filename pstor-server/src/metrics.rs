//! What the server counts for `/metrics` (Prometheus): ingest over the SDK
//! ports, sync latency, SDK connections and management API requests. The
//! engine's state (capacity, use, status per space and pool) is read at
//! each scrape instead ([`crate::manage::metrics`]).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Instant;

/// Labels of an API request: route, method, status.
pub type RequestLabels = Vec<(&'static str, String)>;

/// The counters (cheap clones share them).
#[derive(Debug, Clone)]
pub struct ServerMetrics {
    /// Frames appended over the SDK ports.
    pub ingest_frames: Counter,
    /// Bytes of those frames.
    pub ingest_bytes: Counter,
    /// Pictures put over the SDK ports.
    pub pictures: Counter,
    /// Bytes of those pictures.
    pub picture_bytes: Counter,
    /// Seconds each sync request of an SDK client took.
    pub sync_seconds: Histogram,
    /// SDK connections open now.
    pub sdk_connections: Gauge,
    /// Management API requests by route, method and status.
    pub api_requests: Family<RequestLabels, Counter>,
    /// Files (or parts of files) the playback data port began to send.
    pub playback_files: Counter,
    /// Bytes the playback data port sent.
    pub playback_bytes: Counter,
    /// Files whose sending was cut short because the stored data went
    /// (overwritten, lost, I/O).
    pub playback_aborted: Counter,
    /// Files being sent now.
    pub playback_active: Gauge,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics {
            ingest_frames: Counter::default(),
            ingest_bytes: Counter::default(),
            pictures: Counter::default(),
            picture_bytes: Counter::default(),
            // 1 ms .. ~16 s.
            sync_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            sdk_connections: Gauge::default(),
            api_requests: Family::default(),
            playback_files: Counter::default(),
            playback_bytes: Counter::default(),
            playback_aborted: Counter::default(),
            playback_active: Gauge::default(),
        }
    }
}

impl ServerMetrics {
    /// Registers them all in `r`.
    pub fn register(&self, r: &mut Registry) {
        r.register("pstor_ingest_frames", "Video frames appended over the SDK ports", self.ingest_frames.clone());
        r.register(
            "pstor_ingest_bytes",
            "Bytes of video frames appended over the SDK ports",
            self.ingest_bytes.clone(),
        );
        r.register("pstor_pictures", "Pictures put over the SDK ports", self.pictures.clone());
        r.register("pstor_picture_bytes", "Bytes of pictures put over the SDK ports", self.picture_bytes.clone());
        r.register("pstor_sync_duration_seconds", "Time SDK sync requests took", self.sync_seconds.clone());
        r.register("pstor_sdk_connections", "SDK connections open now", self.sdk_connections.clone());
        r.register(
            "pstor_api_requests",
            "Management API requests by route, method and status",
            self.api_requests.clone(),
        );
        r.register("pstor_playback_files", "Files the playback data port began to send", self.playback_files.clone());
        r.register("pstor_playback_bytes", "Bytes the playback data port sent", self.playback_bytes.clone());
        r.register(
            "pstor_playback_aborted",
            "Files whose sending was cut short because the stored data went (overwritten, lost, I/O)",
            self.playback_aborted.clone(),
        );
        r.register("pstor_playback_active", "Files being sent now", self.playback_active.clone());
    }

    /// Times a sync: observes the seconds since `started`.
    pub fn synced(&self, started: Instant) {
        self.sync_seconds.observe(started.elapsed().as_secs_f64());
    }
}
