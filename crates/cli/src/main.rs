//! The `vigil` binary: parses the command line and hands off to the library crates. Nothing else lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil_agent::{AgentSettings, Scraper};
use vigil_collect::CollectorSet;
use vigil_config::Config;

mod up_logs;

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
    /// Store metrics and answer queries: the Prometheus-compatible API, remote_write ingest and scraping.
    Server(ServerArgs),
    /// Server and agent in one process: monitors this machine with sane defaults (data in ./vigil-data).
    Up(ServerArgs),
    /// Validate files without running anything.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Manage silences on a running server, like amtool: add, query, expire.
    Silence(SilenceArgs),
    /// Manage the fleet-wide ban list on a running server: list, add, remove.
    Bans(BansArgs),
    /// Query logs with LogQL on a running server (or Loki), like logcli: `vigil logs '{job="nginx"} |= "error"'`.
    Logs(LogsArgs),
    /// Security detection tools.
    Guard {
        #[command(subcommand)]
        what: GuardCommand,
    },
    /// Run unit tests.
    Test {
        #[command(subcommand)]
        what: TestCommand,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Check a vigil configuration file; prints `file:line:col: error` and exits 1 when it is invalid.
    Config { file: PathBuf },
    /// Check Prometheus rule files, as `promtool check rules` does; exits 1 when one is invalid.
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GuardCommand {
    /// Run a jail's matchers over a log file (`-` for stdin), like fail2ban-regex: one JSON object per line the
    /// jail counts as a failure on stdout, a summary on stderr.
    Match {
        /// The jail: sshd, sshd-aggressive or sudo.
        #[arg(long, default_value = "sshd")]
        jail: String,
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct LogsArgs {
    /// A LogQL query: log lines (`{job="nginx"} |= "500"`) or a metric (`sum(rate({job="nginx"}[5m]))`).
    query: String,
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    url: String,
    /// How far back to look, as a Prometheus duration.
    #[arg(long, default_value = "1h")]
    since: String,
    /// Most lines to print: the newest ones.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Keep printing new lines as they arrive (polls every second) until interrupted.
    #[arg(long, short)]
    follow: bool,
    /// `default` (time, labels, line), `raw` (the line) or `jsonl`.
    #[arg(long, short, default_value = "default")]
    output: String,
}

#[derive(clap::Args)]
struct SilenceArgs {
    /// The server's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:9090")]
    url: String,
    #[command(subcommand)]
    what: SilenceCommand,
}

#[derive(Subcommand)]
enum SilenceCommand {
    /// Create a silence from matchers (`alertname=X instance=~"a.*"`); prints its id.
    Add {
        #[arg(required = true)]
        matchers: Vec<String>,
        /// How long it lasts, as a Prometheus duration.
        #[arg(long, short, default_value = "1h")]
        duration: String,
        #[arg(long, short, default_value = "")]
        comment: String,
        /// Who creates it (default: $USER).
        #[arg(long, short)]
        author: Option<String>,
    },
    /// List the active silences as a table.
    Query,
    /// Expire silences by id.
    Expire {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

#[derive(clap::Args)]
struct BansArgs {
    /// The server's base URL.
    #[arg(long, global = true, default_value = "http://127.0.0.1:9090")]
    url: String,
    #[command(subcommand)]
    what: BansCommand,
}

#[derive(Subcommand)]
enum BansCommand {
    /// List the active bans as a table.
    List,
    /// Ban an address on every agent (or extend its ban); prints what the server now holds.
    Add {
        ip: String,
        /// How long, as a Prometheus duration or seconds; `never` for good.
        #[arg(long, short, default_value = "1h")]
        duration: String,
        #[arg(long, short, default_value = "")]
        reason: String,
        /// The jail to file it under (default: manual).
        #[arg(long)]
        jail: Option<String>,
    },
    /// Lift the bans of addresses.
    Remove {
        #[arg(required = true)]
        ips: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TestCommand {
    /// Run Prometheus rule unit test files, as `promtool test rules` does; exits 1 when a test fails.
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
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

#[derive(clap::Args)]
struct ServerArgs {
    /// Configuration file (YAML). Without one, every default applies.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Address of the HTTP API; overrides `server.listen` (default 127.0.0.1:9090).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Data directory; overrides `server.data_dir` (default ./vigil-data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Agent(args) => run_agent(args),
        Command::Server(args) => run_server(args, false),
        Command::Up(args) => run_server(args, true),
        Command::Check { what: CheckCommand::Config { file } } => check_config(&file),
        Command::Check { what: CheckCommand::Rules { files } } => Ok(check_rules(&files)),
        Command::Test { what: TestCommand::Rules { files } } => test_rules(&files),
        Command::Silence(args) => silence(args),
        Command::Bans(args) => bans(args),
        Command::Logs(args) => logs(args),
        Command::Guard { what: GuardCommand::Match { jail, file } } => guard_match(&jail, &file),
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
    vigil_server::alertmanager::AlertingConfig::from_config(&config)?;
    Ok(config)
}

fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    match load_config(file) {
        Ok(config) => {
            let patterns: Vec<String> = config.rule_files.iter().map(|f| f.value.clone()).collect();
            let log_patterns: Vec<String> = config.log_rule_files.iter().map(|f| f.value.clone()).collect();
            let expander = vigil_rules::GoExpander::new(&config.server.external_url());
            if let Err(errors) = vigil_server::rules::load_all_rule_files(&patterns, &log_patterns, &expander) {
                for e in errors {
                    eprintln!("{e}");
                }
                return Ok(ExitCode::FAILURE);
            }
            let dir = config.server.dashboards_dir.as_ref().map(|d| PathBuf::from(&d.value));
            let broken: Vec<String> = vigil_server::dashboards::Dashboards::new(dir)
                .list()
                .into_iter()
                .filter_map(|e| e.dashboard.err())
                .collect();
            if !broken.is_empty() {
                for e in broken {
                    eprintln!("{e}");
                }
                return Ok(ExitCode::FAILURE);
            }
            println!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Prints `FILE: N rules found` for each valid file (and duplicate rules as a warning, as promtool's lint does),
/// or its errors as `file:line:col: message`.
fn check_rules(files: &[PathBuf]) -> ExitCode {
    let expander = vigil_rules::GoExpander::new("");
    let mut failed = false;
    for file in files {
        match vigil_rules::load_rule_file(file, &expander) {
            Ok(rules) => {
                println!("{}: {} rules found", file.display(), rules.rule_count());
                let duplicates = vigil_rules::duplicate_rules(&rules);
                if !duplicates.is_empty() {
                    let message = vigil_rules::duplicates_message(&duplicates).replace('\n', "\n  ");
                    eprintln!("{}: warning: {message}", file.display());
                }
            }
            Err(errors) => {
                failed = true;
                for e in errors {
                    eprintln!("{e}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs rule unit test files and prints the outcome as promtool does.
fn test_rules(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let expander = vigil_rules::GoExpander::new("");
    let options = vigil_rules::unittest::UnitTestOptions { expander: &expander };
    let mut failed = false;
    for file in files {
        let report = vigil_rules::unittest::run_test_file(file, &options);
        report.write(&mut std::io::stdout().lock(), &mut std::io::stderr().lock())?;
        failed |= !report.passed();
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
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
    let shipper = start_log_shipper(&config)?;
    let guard = start_agent_guard(&config, shipper.as_ref())?;
    let mut scraper = Scraper::new(set);
    if let Some(s) = &shipper {
        scraper = scraper.with_log_metrics(s.metrics());
    }
    if let Some(g) = &guard {
        scraper = scraper.with_guard_metrics(g.metrics());
    }

    // Scrapes run one at a time on a blocking thread; one such thread keeps memory (and malloc arenas) small.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(1).build()?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.metrics_listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.metrics_listen))?;
        tracing::info!(address = %listener.local_addr()?, "serving /metrics");
        vigil_agent::serve(listener, scraper, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    });
    stop_guard(guard);
    stop_log_shipper(shipper);
    tracing::info!("stopped");
    result
}

/// Starts shipping logs when the config has `agent.logs`.
fn start_log_shipper(config: &Config) -> anyhow::Result<Option<vigil_agent::logs::LogShipper>> {
    let Some(logs) = &config.agent.logs else { return Ok(None) };
    let settings = vigil_agent::logs::LogsSettings::from_config(logs, &hostname())?;
    start_shipping(settings, logs).map(Some)
}

fn start_shipping(
    settings: vigil_agent::logs::LogsSettings,
    logs: &vigil_config::LogsConfig,
) -> anyhow::Result<vigil_agent::logs::LogShipper> {
    let sources = settings.sources.len();
    let shipper = vigil_agent::logs::LogShipper::start(settings)?;
    tracing::info!(sources, push_url = logs.push_url.value, "shipping logs");
    Ok(shipper)
}

/// `vigil up`'s logs: `agent.logs` when configured, else this host's own logs pushed to this server.
fn start_up_log_shipper(
    config: &Config,
    listen: std::net::SocketAddr,
    data_dir: &Path,
) -> anyhow::Result<vigil_agent::logs::LogShipper> {
    if config.agent.logs.is_some() {
        return Ok(start_log_shipper(config)?.expect("agent.logs is set"));
    }
    let logs = up_logs::default_logs(listen, data_dir, &guard_rootfs(config))?;
    let mut settings = vigil_agent::logs::LogsSettings::from_config(&logs, &hostname())?;
    // The server in this process stops first: what is unsent waits in the outbox for the next start.
    settings.drain_timeout = std::time::Duration::ZERO;
    start_shipping(settings, &logs)
}

/// Pushes what was read to the outbox and sends what it can within a few seconds.
fn stop_log_shipper(shipper: Option<vigil_agent::logs::LogShipper>) {
    if let Some(s) = shipper {
        tracing::info!("flushing logs");
        s.shutdown();
    }
}

/// Starts the jails when the config has `agent.guard` (their data under the agent's data directory by default).
fn start_agent_guard(
    config: &Config,
    shipper: Option<&vigil_agent::logs::LogShipper>,
) -> anyhow::Result<Option<vigil_agent::guard::Guard>> {
    let Some(cfg) = &config.agent.guard else { return Ok(None) };
    let agent_dir = config.agent.logs.as_ref().map_or(vigil_config::DEFAULT_AGENT_DATA_DIR, |l| l.data_dir());
    let defaults = vigil_agent::guard::SourceDefaults::default();
    let mut settings = vigil_agent::guard::GuardSettings::from_config(
        cfg,
        &Path::new(agent_dir).join("guard"),
        &hostname(),
        &defaults,
    )?;
    settings.rootfs = guard_rootfs(config);
    start_guard(settings, shipper).map(Some)
}

/// `vigil up` runs the default jails in detect mode even without `agent.guard`; a host without an auth log or
/// journald gets one warning and no guard, never a failed start.
fn start_up_guard(
    config: &Config,
    data_dir: &Path,
    shipper: Option<&vigil_agent::logs::LogShipper>,
) -> anyhow::Result<Option<vigil_agent::guard::Guard>> {
    let implicit = vigil_config::GuardConfig::default();
    let cfg = config.agent.guard.as_ref().unwrap_or(&implicit);
    let defaults = vigil_agent::guard::SourceDefaults::default();
    let settings =
        match vigil_agent::guard::GuardSettings::from_config(cfg, &data_dir.join("guard"), &hostname(), &defaults) {
            Ok(s) => vigil_agent::guard::GuardSettings { rootfs: guard_rootfs(config), ..s },
            Err(err) => {
                tracing::warn!(%err, "running without the guard");
                return Ok(None);
            }
        };
    match start_guard(settings, shipper) {
        Ok(g) => Ok(Some(g)),
        Err(err) if config.agent.guard.is_none() => {
            tracing::warn!(err = format!("{err:#}"), "running without the guard");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The guard reads account and watched files under `agent.paths.rootfs`, as the collectors do.
fn guard_rootfs(config: &Config) -> PathBuf {
    config.agent.paths.rootfs.as_ref().map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

fn start_guard(
    settings: vigil_agent::guard::GuardSettings,
    shipper: Option<&vigil_agent::logs::LogShipper>,
) -> anyhow::Result<vigil_agent::guard::Guard> {
    let firewall = vigil_agent::guard::build_firewall(&settings.firewall)?;
    let (jails, sources) = (settings.jails.len(), settings.sources.len());
    let backend = firewall.name();
    let data_dir = settings.data_dir.clone();
    let logs = shipper.map(|s| s.appender());
    let guard = vigil_agent::guard::Guard::start(settings, firewall, logs, vigil_agent::guard::system_clock())?;
    tracing::info!(jails, sources, firewall = backend, data_dir = %data_dir.display(), "guard running");
    Ok(guard)
}

fn stop_guard(guard: Option<vigil_agent::guard::Guard>) {
    if let Some(g) = guard {
        g.shutdown();
    }
}

/// How often `vigil up` collects this host's metrics and its own.
const UP_COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// `vigil server`, or with `with_agent` `vigil up`: the server plus this host's collectors, ingested in-process.
fn run_server(args: ServerArgs, with_agent: bool) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => load_config(path).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Config::default(),
    };
    let listen = args.listen.unwrap_or_else(|| config.server.listen());
    let data_dir = args.data.unwrap_or_else(|| PathBuf::from(config.server.data_dir()));
    let mut options = vigil_server::ServerOptions::new(&data_dir);
    if let Some(retention) = config.server.retention_ms() {
        options.db.retention = (retention > 0).then_some(retention);
    }
    options.db.max_bytes = config.server.retention_bytes();
    if let Some(retention) = config.server.logs_retention_ms() {
        options.logs.retention = (retention > 0).then(|| std::time::Duration::from_millis(retention as u64));
    }
    options.logs.max_bytes = config.server.logs_retention_bytes();
    let reloadable = vigil_server::ServerReload::from_config(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    options.global = reloadable.global;
    options.scrape_configs = reloadable.scrape_configs;
    options.alerting = reloadable.alerting;
    options.bans = vigil_server::bans::BansOptions::from_config(&config.server);
    options.rules = rule_options(&config, listen);
    options.dashboards_dir = config.server.dashboards_dir.as_ref().map(|d| PathBuf::from(&d.value));
    // `vigil up` evaluates the default security alerts too, first, also after a reload.
    let builtin_rules = match with_agent {
        true => vec![write_security_rules(&data_dir)?],
        false => Vec::new(),
    };
    options.rules.rule_files.splice(0..0, builtin_rules.iter().cloned());
    // `--listen` and `--data` only override settings a reload does not change, so the file alone is re-read.
    options.config_source = args.config.clone().map(|path| {
        vigil_server::ConfigSource::new(move || {
            let config = load_config(&path).map_err(|e| e.to_string())?;
            let mut reload = vigil_server::ServerReload::from_config(&config).map_err(|e| e.to_string())?;
            reload.rule_files.splice(0..0, builtin_rules.iter().cloned());
            Ok(reload)
        })
    });
    // One address serves both APIs, so rules and notifications link back to the same URL.
    options.alertmanager.external_url = options.rules.external_url.clone();
    tracing::info!(data_dir = %data_dir.display(), "opening the metric store (replaying its log)");
    let mut server = vigil_server::Server::open(options)?;
    // `vigil up` ships the configured logs too (to whatever `push_url` says), or this host's own to itself.
    let mut shipper = None;
    let mut guard = None;
    if with_agent {
        let settings = AgentSettings::from_config(&config.agent)?;
        let mut set = CollectorSet::new(settings.options, settings.enabled.as_deref())?;
        let host = hostname();
        let node =
            vigil_server::local::LocalTarget::new("node", &host, move |sink: &mut dyn vigil_model::MetricSink| {
                set.collect(sink)
            });
        let own = vigil_server::local::LocalTarget::new("vigil", &listen.to_string(), server.own_metrics());
        let mut targets = vec![node, own];
        shipper = Some(start_up_log_shipper(&config, listen, &data_dir)?);
        if let Some(metrics) = shipper.as_ref().map(|s| s.metrics()) {
            let collect = move |sink: &mut dyn vigil_model::MetricSink| metrics.collect(sink);
            targets.push(vigil_server::local::LocalTarget::new("vigil_agent", &host, collect));
        }
        guard = start_up_guard(&config, &data_dir, shipper.as_ref())?;
        if let Some(metrics) = guard.as_ref().map(|g| g.metrics()) {
            let collect = move |sink: &mut dyn vigil_model::MetricSink| metrics.collect(sink);
            targets.push(vigil_server::local::LocalTarget::new("vigil_guard", &host, collect));
        }
        server.add_local_targets(targets, UP_COLLECT_EVERY);
        tracing::info!(instance = host, "collecting this host's metrics in-process as job \"node\"");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let result = runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, "serving the API");
        println!("vigil listening on http://{address} (try http://{address}/api/v1/query?query=up)");
        server.serve(listener, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    });
    stop_guard(guard);
    stop_log_shipper(shipper);
    tracing::info!("stopped");
    result
}

/// Writes vigil's default security alerts to `<data_dir>/rules/security.yml` (again at every start, so an
/// upgrade brings its version) and returns the path, for `rule_files`.
fn write_security_rules(data_dir: &Path) -> anyhow::Result<String> {
    let dir = data_dir.join("rules");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(vigil_rules::packs::SECURITY_RULES_FILE);
    std::fs::write(&path, vigil_rules::packs::SECURITY_RULES)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

/// The rule manager's settings from the config: `rule_files:`, `global:` and `server.external_url`.
fn rule_options(config: &Config, listen: std::net::SocketAddr) -> vigil_server::rules::RuleOptions {
    let external_url = match &config.server.external_url {
        Some(_) => config.server.external_url(),
        None => format!("http://{listen}"),
    };
    vigil_server::rules::RuleOptions {
        rule_files: config.rule_files.iter().map(|f| f.value.clone()).collect(),
        log_rule_files: config.log_rule_files.iter().map(|f| f.value.clone()).collect(),
        evaluation_interval_ms: config.global.evaluation_interval().as_millis() as i64,
        external_labels: vigil_model::Labels::from_pairs(config.global.external_labels.iter()).unwrap_or_default(),
        external_url,
        ..vigil_server::rules::RuleOptions::default()
    }
}

/// This machine's name, for the `instance` label of its own metrics.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
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

/// `vigil guard match`: the lines of `file` that jail `jail` counts, as JSON lines, and a summary.
fn guard_match(jail: &str, file: &Path) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let names: Vec<String> = vigil_guard::jail::JailConfig::defaults().into_iter().map(|j| j.name).collect();
    let config = vigil_guard::scan::default_jail(jail)
        .ok_or_else(|| anyhow::anyhow!("--jail: unknown jail {jail:?} (one of {})", names.join(", ")))?;
    let mut input: Box<dyn std::io::BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    // Lines without a year (classic syslog) are read as of this year.
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let year = vigil_model::time::civil_from_days(days as i64).0 as i32;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_error = None;
    let summary = vigil_guard::scan::scan(config, &mut input, year, &mut |n, ev, offender| {
        let record = serde_json::json!({
            "line": n,
            "event.action": ev.action.as_str(),
            "event.outcome": ev.outcome.as_str(),
            "source.ip": ev.source_ip.map(|ip| ip.to_string()),
            "user.name": ev.user_name,
            "offender": offender.to_string(),
        });
        if let Err(e) = writeln!(out, "{record}") {
            write_error.get_or_insert(e);
        }
    })
    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    out.flush()?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let mut top: Vec<(&String, &u64)> = summary.offenders.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = top.iter().take(5).map(|(who, n)| format!("{who} ({n})")).collect();
    eprintln!(
        "lines: {}, events: {}, matched: {}, offenders: {}{}",
        summary.lines,
        summary.events,
        summary.matched,
        summary.offenders.len(),
        if top.is_empty() { String::new() } else { format!("; most: {}", top.join(", ")) }
    );
    Ok(ExitCode::SUCCESS)
}

/// `vigil logs`: the query's lines oldest first (or a metric's series), then new lines with `--follow`.
fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    use vigil_server::logs::client::{self, Answer, Output};
    let output = match args.output.as_str() {
        "default" => Output::Default,
        "raw" => Output::Raw,
        "jsonl" => Output::Jsonl,
        other => anyhow::bail!("--output: unknown format {other:?} (default, raw or jsonl)"),
    };
    let since_ms = vigil_model::time::parse_duration(&args.since).map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    anyhow::ensure!(since_ms > 0, "--since must be positive");
    anyhow::ensure!(args.limit > 0, "--limit must be positive");
    let now_ns =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let end = now_ns();
        let start = end - since_ms * 1_000_000;
        let mut stdout = std::io::stdout().lock();
        let lines = match client::query(&args.url, &args.query, start, end, args.limit, false).await {
            Ok(Answer::Lines(lines)) => lines,
            Ok(Answer::Metric(text)) => {
                anyhow::ensure!(!args.follow, "--follow needs a log query, not a metric query");
                write!(stdout, "{text}")?;
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => anyhow::bail!(e),
        };
        for line in &lines {
            stdout.write_all(client::format_line(line, output).as_bytes())?;
        }
        stdout.flush()?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        // Lines at the last printed timestamp were printed already; newer ones arrive with later polls.
        let mut last = lines.last().map_or(end, |l| l.ts_ns);
        let mut printed_at_last: Vec<client::Line> = lines.into_iter().filter(|l| l.ts_ns == last).collect();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let fresh = match client::query(&args.url, &args.query, last, now_ns(), 5_000, true).await {
                Ok(Answer::Lines(lines)) => lines,
                Ok(Answer::Metric(_)) => anyhow::bail!("the query became a metric query"),
                Err(e) => {
                    eprintln!("vigil: {e}; retrying");
                    continue;
                }
            };
            for line in fresh {
                if line.ts_ns < last || (line.ts_ns == last && printed_at_last.contains(&line)) {
                    continue;
                }
                if line.ts_ns > last {
                    last = line.ts_ns;
                    printed_at_last.clear();
                }
                stdout.write_all(client::format_line(&line, output).as_bytes())?;
                printed_at_last.push(line);
            }
            stdout.flush()?;
        }
    })
}

/// `vigil silence add|query|expire` against `--url`.
fn silence(args: SilenceArgs) -> anyhow::Result<ExitCode> {
    use vigil_server::alertmanager::client;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = args.url;
    runtime.block_on(async move {
        match args.what {
            SilenceCommand::Add { matchers, duration, comment, author } => {
                let ms =
                    vigil_model::time::parse_duration(&duration).map_err(|e| anyhow::anyhow!("--duration: {e}"))?;
                anyhow::ensure!(ms > 0, "--duration must be positive");
                let author = author.or_else(|| std::env::var("USER").ok()).unwrap_or_default();
                let new = client::NewSilence {
                    matchers,
                    duration: std::time::Duration::from_millis(ms as u64),
                    author,
                    comment,
                };
                println!("{}", client::add_silence(&url, &new).await.map_err(anyhow::Error::msg)?);
            }
            SilenceCommand::Query => print!("{}", client::query_silences(&url).await.map_err(anyhow::Error::msg)?),
            SilenceCommand::Expire { ids } => {
                for id in ids {
                    client::expire_silence(&url, &id).await.map_err(anyhow::Error::msg)?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `vigil bans list|add|remove` against `--url`.
fn bans(args: BansArgs) -> anyhow::Result<ExitCode> {
    use vigil_server::bans::client;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = args.url;
    runtime.block_on(async move {
        match args.what {
            BansCommand::List => print!("{}", client::list_bans(&url).await.map_err(anyhow::Error::msg)?),
            BansCommand::Add { ip, duration, reason, jail } => {
                let ban = client::AddBan { ip, duration, reason, jail };
                println!("{}", client::add_ban(&url, &ban).await.map_err(anyhow::Error::msg)?);
            }
            BansCommand::Remove { ips } => {
                for ip in ips {
                    client::remove_ban(&url, &ip).await.map_err(anyhow::Error::msg)?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
