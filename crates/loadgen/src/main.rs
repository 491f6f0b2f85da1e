//! The `vigil-loadgen` command: parses flags into a [`Config`], runs it and prints a one-line JSON summary.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use vigil_loadgen::run::now_ms;
use vigil_loadgen::{run, Config};

/// Sends node_exporter-like series over Prometheus remote_write 1.0.
#[derive(Parser, Debug)]
#[command(name = "vigil-loadgen", version)]
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
    /// Send one round per interval of wall-clock time, like a live Prometheus.
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
            realtime: self.realtime,
            max_retries: self.max_retries,
            timeout: self.timeout,
            ..Config::new("")
        })
    }
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
    let config = match Args::parse().into_config() {
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
        let args = Args::parse_from(["vigil-loadgen", "--duration", "1h", "--interval", "15s"]);
        let c = args.into_config().unwrap();
        assert_eq!(c.rounds, 240);
        assert!((now_ms() - 3_600_000 - c.start_ms).abs() < 60_000);
        let c = Args::parse_from(["vigil-loadgen", "--rounds", "3", "--start", "1700000000"]).into_config().unwrap();
        assert_eq!((c.rounds, c.start_ms), (3, 1_700_000_000_000));
        assert!(Args::try_parse_from(["vigil-loadgen", "--rounds", "3", "--duration", "1h"]).is_err());
    }
}
