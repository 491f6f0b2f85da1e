//! In-process ingest for `vigil up`: runs local metric sources (the host collectors, the server's own metrics)
//! on an interval and appends their samples straight into the tsdb, with the labels, `up` series and staleness
//! markers a scrape would give them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_model::{Desc, Labels, MetricSink, METRIC_NAME};
use vigil_tsdb::{Db, Sample, SeriesBatch};

/// The value Prometheus writes to mark a series as gone.
pub const STALE_NAN: u64 = 0x7ff0000000000002;

/// Something that writes samples when asked, like an exporter's `/metrics` handler.
pub trait LocalSource: Send + 'static {
    fn collect(&mut self, sink: &mut dyn MetricSink);
}

impl<F: FnMut(&mut dyn MetricSink) + Send + 'static> LocalSource for F {
    fn collect(&mut self, sink: &mut dyn MetricSink) {
        self(sink)
    }
}

/// The server's own metrics, as `/metrics` serves them (tsdb, rules, alerting, reloads), as a source.
pub struct ServerMetrics(pub(crate) Arc<crate::api::ApiState>);

impl LocalSource for ServerMetrics {
    fn collect(&mut self, sink: &mut dyn MetricSink) {
        self.0.collect_metrics(sink);
    }
}

/// A source with the target labels its series get, as if scraped as `job`/`instance`.
pub struct LocalTarget {
    pub job: String,
    pub instance: String,
    pub source: Box<dyn LocalSource>,
    /// Series of the previous round, for staleness markers.
    previous: HashSet<Labels>,
}

impl LocalTarget {
    pub fn new(job: &str, instance: &str, source: impl LocalSource) -> LocalTarget {
        LocalTarget {
            job: job.to_string(),
            instance: instance.to_string(),
            source: Box::new(source),
            previous: HashSet::new(),
        }
    }

    /// Collects once at time `t`: the source's samples, `up` and `scrape_duration_seconds`, and stale markers for
    /// series the previous round had and this one has not.
    pub fn collect_round(&mut self, t: i64) -> Vec<SeriesBatch> {
        let started = Instant::now();
        let mut sink = BatchSink { job: &self.job, instance: &self.instance, t, batches: Vec::new() };
        self.source.collect(&mut sink);
        let elapsed = started.elapsed().as_secs_f64();
        let mut batches = sink.batches;
        let synthetic = [("up", 1.0), ("scrape_duration_seconds", elapsed)];
        for (name, value) in synthetic {
            let labels = Labels::from_pairs([(METRIC_NAME, name), ("job", &self.job), ("instance", &self.instance)]);
            if let Ok(labels) = labels {
                batches.push(SeriesBatch { labels, samples: vec![Sample { t, v: value }] });
            }
        }
        let current: HashSet<Labels> = batches.iter().map(|b| b.labels.clone()).collect();
        for gone in self.previous.difference(&current) {
            batches
                .push(SeriesBatch { labels: gone.clone(), samples: vec![Sample { t, v: f64::from_bits(STALE_NAN) }] });
        }
        self.previous = current;
        batches
    }
}

/// Turns collector output into tsdb batches, adding the target labels (a collector's own `job` or `instance`
/// label wins, as with `honor_labels`).
struct BatchSink<'a> {
    job: &'a str,
    instance: &'a str,
    t: i64,
    batches: Vec<SeriesBatch>,
}

impl MetricSink for BatchSink<'_> {
    fn sample(&mut self, desc: &Desc<'_>, labels: &[(&str, &str)], value: f64) {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len() + 3);
        pairs.push((METRIC_NAME, desc.name));
        pairs.extend_from_slice(labels);
        for (name, target_value) in [("job", self.job), ("instance", self.instance)] {
            if !labels.iter().any(|(n, _)| *n == name) {
                pairs.push((name, target_value));
            }
        }
        match Labels::from_pairs(pairs) {
            Ok(labels) => self.batches.push(SeriesBatch { labels, samples: vec![Sample { t: self.t, v: value }] }),
            Err(err) => tracing::warn!(%err, metric = desc.name, "dropping a local sample with invalid labels"),
        }
    }
}

/// Runs `targets` every `interval` until `stop` turns true, appending into `db` and telling `watch`.
pub async fn run(
    db: Arc<Db>,
    watch: Arc<crate::rules::IngestWatch>,
    mut targets: Vec<LocalTarget>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let (db, watch) = (db.clone(), watch.clone());
        let round = tokio::task::spawn_blocking(move || {
            let t = crate::api::now_ms();
            let mut batches = Vec::new();
            for target in &mut targets {
                batches.extend(target.collect_round(t));
            }
            let result = db.append(&batches);
            if result.is_ok() {
                watch.touched(batches.iter().filter_map(|s| s.labels.metric_name()));
            }
            (targets, result)
        })
        .await;
        match round {
            Ok((back, result)) => {
                targets = back;
                if let Err(err) = result {
                    tracing::error!(%err, "appending local metrics failed");
                }
            }
            Err(err) => {
                tracing::error!(%err, "local collection task failed; stopping local ingest");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_add_target_labels_up_and_stale_markers() {
        let mut round = 0;
        let mut target = LocalTarget::new("node", "host:9100", move |sink: &mut dyn MetricSink| {
            round += 1;
            let desc = Desc::gauge("node_load1", "Load.");
            sink.sample(&desc, &[], 0.5);
            if round == 1 {
                sink.sample(&Desc::gauge("node_gone", "Disappears."), &[("job", "own")], 1.0);
            }
        });
        let first = target.collect_round(1_000);
        let names: Vec<String> = first.iter().map(|b| b.labels.to_string()).collect();
        assert_eq!(
            names,
            [
                "node_load1{instance=\"host:9100\", job=\"node\"}",
                "node_gone{instance=\"host:9100\", job=\"own\"}",
                "up{instance=\"host:9100\", job=\"node\"}",
                "scrape_duration_seconds{instance=\"host:9100\", job=\"node\"}",
            ]
        );
        let second = target.collect_round(2_000);
        let stale: Vec<&SeriesBatch> = second.iter().filter(|b| b.samples[0].v.to_bits() == STALE_NAN).collect();
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].labels.metric_name(), Some("node_gone"));
        assert_eq!(stale[0].samples[0].t, 2_000);
        assert_eq!(target.collect_round(3_000).len(), 3, "a series is marked stale once");
    }
}
