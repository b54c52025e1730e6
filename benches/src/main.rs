//! pstor-bench: pstor's load generator. Each subcommand runs a workload and a
//! baseline in the same process, on the same folder, and reports the ratio,
//! so a figure holds on a noisy machine. `--json` adds one JSON object on the
//! last line of stdout.

mod api;
mod baseline;
mod counting;
mod export;
mod ingest;
mod measure;
mod pictures;
mod read;
mod record;
mod recover;
mod remote;
mod setup;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "pstor-bench", version, about = "pstor workloads measured against same-run baselines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run the workload (and its baseline) this many times and report the
    /// median of each figure: the disk of a virtual machine is noisy.
    #[arg(long, global = true, default_value_t = 1)]
    runs: usize,
    /// Print one JSON object on the last line.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Cameras appending H.264-sized frames, synced every M ms (group commit),
    /// against 1 MiB positioned writes with as many fdatasyncs; with
    /// --remote, over the SDK protocol against the embedded engine.
    Ingest(ingest::IngestArgs),
    /// Durable picture puts then random gets, against raw writes of the same
    /// bytes and a file-per-picture store.
    Pictures(pictures::PicturesArgs),
    /// Reopen time of a space of N segments after a clean stop and after a
    /// crash with K cameras writing.
    Recover(recover::RecoverArgs),
    /// Random time-range reads from sealed segments (throughput, latency to
    /// the first frame), against 1 MiB positioned reads of as many bytes.
    Read(read::ReadArgs),
    /// The management API's latency (home summary, log search and a deep
    /// log page over N entries) against its health probe, and the memory
    /// of the CSV download of the whole log.
    Api(api::ApiArgs),
    /// N cameras pulled over RTSP (gst-rtsp-server) and recorded by the
    /// recorder, against `ffmpeg -c copy -f segment` per camera (a
    /// Frigate-style recorder) on the same cameras: CPU per camera-hour,
    /// frames lost.
    Record(record::RecordArgs),
    /// The playback data port's view.mp4 of an hour of one camera over
    /// loopback HTTP (warm and cold: throughput, time to first byte, the
    /// server's memory), against 1 MiB positioned reads of the same stored
    /// records and `ffmpeg -c copy` remuxing the file; then N cameras'
    /// ranges downloaded at once.
    Export(export::ExportArgs),
}

/// Runs the workload `cli.runs` times; prints each run when there are
/// several, then the medians.
fn run(cli: &Cli) -> pstor_core::Result<()> {
    let (title, run): (&str, &dyn Fn() -> pstor_core::Result<measure::Report>) = match &cli.command {
        Command::Ingest(a) => ("pstor-bench ingest", &|| ingest::run(a)),
        Command::Pictures(a) => ("pstor-bench pictures", &|| pictures::run(a)),
        Command::Recover(a) => ("pstor-bench recover", &|| recover::run(a)),
        Command::Read(a) => ("pstor-bench read", &|| read::run(a)),
        Command::Api(a) => ("pstor-bench api", &|| api::run(a)),
        Command::Record(a) => ("pstor-bench record", &|| record::run(a)),
        Command::Export(a) => ("pstor-bench export", &|| export::run(a)),
    };
    let runs = cli.runs.max(1);
    let mut reports = Vec::with_capacity(runs);
    for i in 1..=runs {
        let report = run()?;
        if runs > 1 {
            report.print(&format!("{title} (run {i} of {runs})"), false);
        }
        reports.push(report);
    }
    measure::Report::median(&reports).print(title, cli.json);
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(&cli) {
        eprintln!("pstor-bench: {e}");
        std::process::exit(1);
    }
}
