//! pstor-bench: pstor's load generator. Each subcommand runs a workload and a
//! baseline in the same process, on the same folder, and reports the ratio,
//! so a figure holds on a noisy machine. `--json` adds one JSON object on the
//! last line of stdout.

mod baseline;
mod counting;
mod ingest;
mod measure;
mod pictures;
mod read;
mod recover;
mod setup;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "pstor-bench", version, about = "pstor workloads measured against same-run baselines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Cameras appending H.264-sized frames, synced every M ms (group commit),
    /// against 1 MiB positioned writes with as many fdatasyncs.
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
}

fn main() {
    let cli = Cli::parse();
    let res = match &cli.command {
        Command::Ingest(a) => ingest::run(a),
        Command::Pictures(a) => pictures::run(a),
        Command::Recover(a) => recover::run(a),
        Command::Read(a) => read::run(a),
    };
    if let Err(e) = res {
        eprintln!("pstor-bench: {e}");
        std::process::exit(1);
    }
}
