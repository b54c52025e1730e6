//! `pstor-server`: the standalone pstor service and its administration
//! commands. `docs/server.md` is the operator's guide.
//!
//! Exit status: 0 success; 1 failure (or `check` found problems); 2 bad
//! usage; 130 a second signal cut a graceful shutdown short.

use clap::{Args, Parser, Subcommand};
use pstor_server::config::{KindName, LogFormat, ServerConfig, StrategyName};
use pstor_server::{admin, logging, ByteSize, Server, ServerError};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// pstor-server: video surveillance storage on the SDK ports 6036/6037 and
/// the web management port 6060.
#[derive(Debug, Parser)]
#[command(name = "pstor-server", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data folder is.
#[derive(Debug, Args)]
struct Target {
    /// Configuration file (TOML, see docs/server.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder (overrides the file's `data_dir`; default ./pstor-data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

impl Target {
    fn config(&self) -> Result<ServerConfig, ServerError> {
        let mut cfg = match &self.config {
            Some(path) => ServerConfig::load(path)?,
            None => ServerConfig::default(),
        };
        if let Some(d) = &self.data {
            cfg.data_dir = d.clone();
        }
        Ok(cfg)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (no configuration: the embedded default in ./pstor-data).
    Run {
        #[command(flatten)]
        target: Target,
        /// Address to bind the ports to (default 0.0.0.0; the management
        /// port follows it unless [management] bind says otherwise).
        #[arg(long, value_name = "ADDR")]
        bind: Option<IpAddr>,
        /// Signalling port (default 6036; 0 = any free port).
        #[arg(long, value_name = "N")]
        signalling_port: Option<u16>,
        /// Data port (default 6037; 0 = any free port).
        #[arg(long, value_name = "N")]
        data_port: Option<u16>,
        /// Management port (default 6060; 0 = any free port).
        #[arg(long, value_name = "N")]
        management_port: Option<u16>,
        /// Playback signalling port (default 6038; 0 = any free port).
        #[arg(long, value_name = "N")]
        playback_port: Option<u16>,
        /// Playback data port (default 6039; 0 = any free port).
        #[arg(long, value_name = "N")]
        playback_data_port: Option<u16>,
        /// Log format (default: the file's, else text).
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
        /// Log level or filter (default: the file's, else info; RUST_LOG wins).
        #[arg(long, value_name = "LEVEL")]
        log_level: Option<String>,
    },
    /// Verify the engine's invariants (exit 1 if problems remain).
    Check {
        #[command(flatten)]
        target: Target,
        /// Fix what is safe to fix.
        #[arg(long)]
        repair: bool,
    },
    /// Initialize a folder into a storage space.
    InitSpace {
        #[command(flatten)]
        target: Target,
        /// The folder (created if missing).
        #[arg(long, value_name = "P")]
        path: PathBuf,
        /// Bytes to pre-allocate, e.g. 500GiB.
        #[arg(long, value_name = "SIZE")]
        capacity: ByteSize,
        /// Segment size (default 256MiB).
        #[arg(long, value_name = "SIZE")]
        segment_size: Option<ByteSize>,
    },
    /// List the storage spaces.
    Spaces {
        #[command(flatten)]
        target: Target,
    },
    /// Manage resource pools.
    Pool {
        #[command(subcommand)]
        command: PoolCommand,
    },
    /// The SDK key pairs.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Give admin a new one-time password (in <data>/initial-admin-password);
    /// the server must be stopped.
    ResetAdminPassword {
        #[command(flatten)]
        target: Target,
    },
    /// Clear the allowed address ranges of every port; the server must be stopped.
    ClearAccess {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a key pair as shell lines: eval "$(pstor-server keys show)"
    /// exports PSTOR_ACCESS_KEY and PSTOR_SECRET_KEY.
    Show {
        #[command(flatten)]
        target: Target,
        /// The pair of this access key (default: the first configured).
        #[arg(long, value_name = "KEY")]
        access_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PoolCommand {
    /// List the pools.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Create a pool.
    Create {
        #[command(flatten)]
        target: Target,
        /// Unique name.
        #[arg(long)]
        name: String,
        /// video, picture or mixed.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Capacity, e.g. 1TiB.
        #[arg(long, value_name = "SIZE")]
        capacity: ByteSize,
        /// A space (id or path) to carve it from; repeat; none = all.
        #[arg(long = "space", value_name = "ID|PATH")]
        spaces: Vec<String>,
        /// What happens when full.
        #[arg(long, value_enum, default_value = "overwrite")]
        strategy: StrategyArg,
        /// Retention in days (0 = until overwritten).
        #[arg(long, default_value_t = 30)]
        cycle_days: u32,
        /// Most of the capacity locks may hold, percent.
        #[arg(long, default_value_t = 10)]
        max_lock_pct: u8,
    },
    /// Change a pool's settings.
    Edit {
        #[command(flatten)]
        target: Target,
        /// The pool's name or id.
        pool: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New capacity.
        #[arg(long, value_name = "SIZE")]
        capacity: Option<ByteSize>,
        /// New strategy.
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
        /// New retention in days.
        #[arg(long)]
        cycle_days: Option<u32>,
        /// New max lock percent.
        #[arg(long)]
        max_lock_pct: Option<u8>,
    },
    /// Delete a pool (it must hold no locks).
    Delete {
        #[command(flatten)]
        target: Target,
        /// The pool's name or id.
        pool: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KindArg {
    Video,
    Picture,
    Mixed,
}

impl From<KindArg> for KindName {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Video => KindName::Video,
            KindArg::Picture => KindName::Picture,
            KindArg::Mixed => KindName::Mixed,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StrategyArg {
    Overwrite,
    Stop,
}

impl From<StrategyArg> for StrategyName {
    fn from(s: StrategyArg) -> Self {
        match s {
            StrategyArg::Overwrite => StrategyName::Overwrite,
            StrategyArg::Stop => StrategyName::Stop,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "pstor-server failed");
            eprintln!("pstor-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, ServerError> {
    let mut out = std::io::stdout();
    match cli.command {
        Command::Run {
            target,
            bind,
            signalling_port,
            data_port,
            management_port,
            playback_port,
            playback_data_port,
            log_format,
            log_level,
        } => {
            let mut cfg = target.config()?;
            if let Some(b) = bind {
                cfg.listen.bind = b;
            }
            if let Some(p) = signalling_port {
                cfg.listen.signalling_port = p;
            }
            if let Some(p) = data_port {
                cfg.listen.data_port = p;
            }
            if let Some(p) = management_port {
                cfg.management.port = p;
            }
            if let Some(p) = playback_port {
                cfg.playback.port = p;
            }
            if let Some(p) = playback_data_port {
                cfg.playback.data_port = p;
            }
            if let Some(f) = log_format {
                cfg.logging.format = f;
            }
            if let Some(l) = log_level {
                cfg.logging.level = l;
            }
            logging::init(cfg.logging.format, &cfg.logging.level);
            let server = Server::start(cfg)?;
            server.run_until_signal(|s| {
                // Scripts and tests wait for this line (also in <data>/ports).
                let mut line = format!("listening signalling={} data={}", s.signalling_addr(), s.data_addr());
                if let Some(m) = s.management_addr() {
                    line.push_str(&format!(" management={m}"));
                }
                if let Some((p, d)) = s.playback_addrs() {
                    line.push_str(&format!(" playback={p} playback_data={d}"));
                }
                println!("{line}");
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { target, repair } => {
            let clean = admin::check(&target.config()?, repair, &mut out)?;
            Ok(if clean { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::InitSpace { target, path, capacity, segment_size } => {
            admin::init_space(&target.config()?, path, capacity, segment_size, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Spaces { target } => {
            admin::spaces(&target.config()?, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pool { command } => {
            match command {
                PoolCommand::List { target } => admin::pool_list(&target.config()?, &mut out)?,
                PoolCommand::Create { target, name, kind, capacity, spaces, strategy, cycle_days, max_lock_pct } => {
                    let p = admin::NewPool {
                        name,
                        kind: kind.into(),
                        capacity,
                        spaces,
                        strategy: strategy.into(),
                        cycle_days,
                        max_lock_pct,
                    };
                    admin::pool_create(&target.config()?, p, &mut out)?;
                }
                PoolCommand::Edit { target, pool, name, capacity, strategy, cycle_days, max_lock_pct } => {
                    let c = admin::PoolChanges {
                        name,
                        capacity,
                        strategy: strategy.map(Into::into),
                        cycle_days,
                        max_lock_pct,
                    };
                    admin::pool_edit(&target.config()?, &pool, c, &mut out)?;
                }
                PoolCommand::Delete { target, pool } => admin::pool_delete(&target.config()?, &pool, &mut out)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ResetAdminPassword { target } => {
            admin::reset_admin_password(&target.config()?, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ClearAccess { target } => {
            admin::clear_access(&target.config()?, &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Show { target, access_key } } => {
            admin::keys_show(&target.config()?, access_key.as_deref(), &mut out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
