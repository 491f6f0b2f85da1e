//! The `vigil` binary: parses the command line and hands off to the library crates. Nothing else lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil_agent::{AgentSettings, Scraper};
use vigil_collect::CollectorSet;
use vigil_config::Config;

#[derive(Parser)]
#[command(name = "vigil", version, about = "Host metrics, logs, alerts and security for a fleet, in one binary.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect host metrics and serve them on /metrics, like node_exporter.
    Agent(AgentArgs),
    /// Validate files without running anything.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Check a vigil configuration file; prints `file:line:col: error` and exits 1 when it is invalid.
    Config { file: PathBuf },
}

#[derive(clap::Args)]
struct AgentArgs {
    /// Configuration file (YAML). Without one, every default applies.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address of /metrics; overrides `agent.metrics_listen` (default 127.0.0.1:9100).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// procfs mount point; overrides `agent.paths.procfs`.
    #[arg(long = "path.procfs", value_name = "DIR")]
    procfs: Option<PathBuf>,
    /// sysfs mount point; overrides `agent.paths.sysfs`.
    #[arg(long = "path.sysfs", value_name = "DIR")]
    sysfs: Option<PathBuf>,
    /// Root of the host filesystem; overrides `agent.paths.rootfs`.
    #[arg(long = "path.rootfs", value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Comma-separated collectors to run; overrides `agent.collectors.enabled` (default: all).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    collectors: Option<Vec<String>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Agent(args) => run_agent(args),
        Command::Check { what: CheckCommand::Config { file } } => check_config(&file),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("vigil: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}

/// Loads and fully validates a config file, including what only the agent knows (collector names).
fn load_config(path: &Path) -> Result<Config, vigil_config::ConfigError> {
    let config = Config::load(path)?;
    config.agent.check_collector_names(&path.display().to_string(), vigil_collect::ALL_COLLECTORS)?;
    Ok(config)
}

fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    match load_config(file) {
        Ok(_) => {
            println!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn run_agent(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => load_config(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    let mut settings = AgentSettings::from_config(&config.agent)?;
    if let Some(addr) = args.metrics_listen {
        settings.metrics_listen = addr;
    }
    let paths = &mut settings.options.paths;
    for (flag, target) in
        [(args.procfs, &mut paths.procfs), (args.sysfs, &mut paths.sysfs), (args.rootfs, &mut paths.rootfs)]
    {
        if let Some(dir) = flag {
            *target = dir;
        }
    }
    if args.collectors.is_some() {
        settings.enabled = args.collectors;
    }
    let set = CollectorSet::new(settings.options, settings.enabled.as_deref())?;
    let names: Vec<&str> = set.names().collect();
    tracing::info!(collectors = names.join(","), "collectors enabled");

    // Scrapes run one at a time on a blocking thread; one such thread keeps memory (and malloc arenas) small.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(1).build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.metrics_listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.metrics_listen))?;
        tracing::info!(address = %listener.local_addr()?, "serving /metrics");
        vigil_agent::serve(listener, Scraper::new(set), shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}
