//! The `vigil-loadgen` command: parses flags into a [`Config`] (or, for `logs`, a [`LogConfig`]), runs it and
//! prints a one-line JSON summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use vigil_loadgen::logrun::{lines_for_bytes, run_logs, LogConfig};
use vigil_loadgen::run::now_ms;
use vigil_loadgen::{run, Config};

/// Sends node_exporter-like series over Prometheus remote_write 1.0 (or, with `logs`, log lines over Loki push).
#[derive(Parser, Debug)]
#[command(name = "vigil-loadgen", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    metrics: Args,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sends nginx, sshd and JSON app log lines over Loki's push API and writes the same lines to a file.
    Logs(LogArgs),
}

/// Flags of the metrics mode (the default).
#[derive(clap::Args, Debug)]
struct Args {
    /// The remote_write endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9090/api/v1/write")]
    url: String,
    /// Simulated hosts, each with roughly 500 to 900 series.
    #[arg(long, default_value_t = 10)]
    hosts: usize,
    /// Simulated time between two rounds, e.g. 10s, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    interval: Duration,
    /// Rounds to send (each one sample per series).
    #[arg(long, conflicts_with = "duration")]
    rounds: Option<u64>,
    /// Simulated time span to send instead of --rounds, e.g. 1h (rounds = duration / interval).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Time of the first round: unix seconds or milliseconds, `now`, or `now-<duration>`. Defaults to now
    /// minus the whole span, so the data ends in the present (or to now with --realtime).
    #[arg(long, value_parser = parse_start)]
    start: Option<i64>,
    /// Series per request (Prometheus sends up to max_samples_per_send, 2000 by default).
    #[arg(long, default_value_t = 2000)]
    batch_series: usize,
    /// Parallel connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seed of the generated data; the same seed sends the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also send each host's systemd unit states (node_exporter's `--collector.systemd`, 60 series per host).
    #[arg(long)]
    systemd: bool,
    /// Send each round when the clock reaches its time, like a live Prometheus. With a --start in the past,
    /// the rounds already due go out at once first (a backfill that runs on into a live feed).
    #[arg(long)]
    realtime: bool,
    /// Retries of a request after a 5xx, 429 or connection error.
    #[arg(long, default_value_t = 5)]
    max_retries: u32,
    /// Connect, read and write timeout.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
}

impl Args {
    fn into_config(self) -> Result<Config, String> {
        let rounds = match (self.rounds, self.duration) {
            (Some(r), _) => r,
            (None, Some(d)) => (d.as_millis() / self.interval.as_millis().max(1)) as u64,
            (None, None) => 1,
        };
        let span_ms = i64::try_from(self.interval.as_millis().saturating_mul(u128::from(rounds)))
            .map_err(|_| "--rounds times --interval is too long".to_owned())?;
        let start_ms = self.start.unwrap_or(if self.realtime { now_ms() } else { now_ms() - span_ms });
        Ok(Config {
            url: self.url,
            hosts: self.hosts,
            interval: self.interval,
            rounds,
            start_ms,
            batch_series: self.batch_series,
            concurrency: self.concurrency,
            seed: self.seed,
            systemd: self.systemd,
            realtime: self.realtime,
            max_retries: self.max_retries,
            timeout: self.timeout,
            ..Config::new("")
        })
    }
}

/// Flags of `vigil-loadgen logs`.
#[derive(clap::Args, Debug)]
struct LogArgs {
    /// The Loki push endpoint; without a path, `/loki/api/v1/push`.
    #[arg(long, default_value = "http://127.0.0.1:3100")]
    url: String,
    /// Raw size of the lines to send, e.g. 100MiB, 1GiB (newlines included).
    #[arg(long, default_value = "100MiB", value_parser = parse_bytes, conflicts_with = "lines")]
    bytes: u64,
    /// Lines to send instead of --bytes.
    #[arg(long)]
    lines: Option<u64>,
    /// Simulated hosts, each with an nginx, an sshd and an app stream.
    #[arg(long, default_value_t = 20)]
    hosts: usize,
    /// Start of the time window: unix seconds or milliseconds, `now`, or `now-<duration>`; default now minus
    /// --window.
    #[arg(long, value_parser = parse_start)]
    start: Option<i64>,
    /// The span the lines' timestamps spread over evenly.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    window: Duration,
    /// Lines per push.
    #[arg(long, default_value_t = 2000)]
    batch_lines: usize,
    /// Parallel connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seed of the generated lines; the same seed sends the same lines.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the lines, one per line, to this file.
    #[arg(long)]
    raw_out: Option<PathBuf>,
    /// Retries of a request after a 5xx, 429 or connection error.
    #[arg(long, default_value_t = 5)]
    max_retries: u32,
    /// Connect, read and write timeout.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
}

impl LogArgs {
    fn into_config(self) -> LogConfig {
        let window_ms = self.window.as_millis().min(i64::MAX as u128) as i64;
        let start_ms = self.start.unwrap_or_else(|| now_ms().saturating_sub(window_ms));
        let defaults = Config::new("");
        LogConfig {
            lines: self.lines.unwrap_or_else(|| lines_for_bytes(self.bytes, self.hosts, self.seed)),
            url: self.url,
            hosts: self.hosts,
            start_ns: start_ms.saturating_mul(1_000_000),
            window: self.window,
            batch_lines: self.batch_lines,
            concurrency: self.concurrency,
            seed: self.seed,
            raw_out: self.raw_out,
            retry: Config { max_retries: self.max_retries, ..defaults }.retry_policy(),
            timeout: self.timeout,
        }
    }
}

/// `1000`, `512KiB`, `100MiB`, `1GiB`, `1.5GB` (KB, MB, GB are powers of 1000).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("invalid number in {s:?}"))?;
    let scale: f64 = match unit {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use B, KB, MB, GB, KiB, MiB or GiB)")),
    };
    let bytes = n * scale;
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

/// `500ms`, `10s`, `1.5m`, `2h`, `1d`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(|| format!("{s:?} needs a unit"))?;
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("invalid number in {s:?}"))?;
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use ms, s, m, h or d)")),
    };
    Duration::try_from_secs_f64(n * scale).map_err(|_| format!("{s:?} is out of range"))
}

/// `now`, `now-1h`, unix seconds (below 10^11) or unix milliseconds.
fn parse_start(s: &str) -> Result<i64, String> {
    if s == "now" {
        return Ok(now_ms());
    }
    if let Some(ago) = s.strip_prefix("now-") {
        return Ok(now_ms() - parse_duration(ago)?.as_millis() as i64);
    }
    let n: i64 = s.parse().map_err(|_| format!("{s:?} is not now, now-<duration> or a unix timestamp"))?;
    Ok(if n.abs() < 100_000_000_000 { n * 1000 } else { n })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Logs(args)) = cli.command {
        return logs(args);
    }
    let config = match cli.metrics.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vigil-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(summary) => {
            println!("{}", summary.to_json());
            if let Some(e) = &summary.last_error {
                eprintln!("vigil-loadgen: last error: {e}");
            }
            if summary.samples_accepted == summary.samples_sent {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("vigil-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

fn logs(args: LogArgs) -> ExitCode {
    match run_logs(&args.into_config()) {
        Ok(summary) => {
            println!("{}", summary.to_json());
            if let Some(e) = &summary.last_error {
                eprintln!("vigil-loadgen: last error: {e}");
            }
            if summary.lines_accepted == summary.lines_sent {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("vigil-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_starts() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["10", "s", "10y", "-1s", "1e999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_start("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_start("1700000000123"), Ok(1_700_000_000_123));
        let ago = parse_start("now-1h").unwrap();
        assert!((now_ms() - ago - 3_600_000).abs() < 60_000);
        assert!(parse_start("yesterday").is_err());
    }

    #[test]
    fn span_sets_rounds_and_default_start() {
        let args = Cli::parse_from(["vigil-loadgen", "--duration", "1h", "--interval", "15s"]);
        assert!(args.command.is_none());
        let c = args.metrics.into_config().unwrap();
        assert_eq!(c.rounds, 240);
        assert!((now_ms() - 3_600_000 - c.start_ms).abs() < 60_000);
        let c =
            Cli::parse_from(["vigil-loadgen", "--rounds", "3", "--start", "1700000000"]).metrics.into_config().unwrap();
        assert_eq!((c.rounds, c.start_ms), (3, 1_700_000_000_000));
        assert!(Cli::try_parse_from(["vigil-loadgen", "--rounds", "3", "--duration", "1h"]).is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_bytes("100MiB"), Ok(100 << 20));
        for bad in ["", "GiB", "1TiB", "0", "-1MB", "1e99GB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logs_mode_flags() {
        let cli = Cli::parse_from([
            "vigil-loadgen",
            "logs",
            "--url",
            "http://127.0.0.1:9/",
            "--lines",
            "5000",
            "--hosts",
            "3",
            "--start",
            "now-2h",
            "--window",
            "2h",
            "--raw-out",
            "/tmp/x",
        ]);
        let Some(Command::Logs(args)) = cli.command else { panic!("expected the logs subcommand") };
        let c = args.into_config();
        assert_eq!((c.lines, c.hosts, c.window), (5000, 3, Duration::from_secs(7200)));
        assert!((now_ms() * 1_000_000 - 7_200_000_000_000 - c.start_ns).abs() < 60_000_000_000);
        assert_eq!(c.raw_out, Some(PathBuf::from("/tmp/x")));
        assert!(Cli::try_parse_from(["vigil-loadgen", "logs", "--lines", "5", "--bytes", "1MiB"]).is_err());
        assert!(Cli::try_parse_from(["vigil-loadgen", "--hosts", "3", "logs"]).is_err());
    }
}
