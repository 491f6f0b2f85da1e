//! One scrape's body turned into series to append: parsing, target labels (with `exported_` on conflicts),
//! `metric_relabel_configs`, limits, staleness markers, and the synthetic `up` and `scrape_*` series.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigil_proto::exposition::Format;

use vigil_model::{Labels, METRIC_NAME};
use vigil_tsdb::{Sample, SeriesBatch};

use crate::job::ScrapeSettings;
use crate::relabel;

const EXPORTED_PREFIX: &str = "exported_";
const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// How one scrape went, for the report series and the targets API.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    pub error: Option<String>,
    pub duration: Duration,
    /// Samples in the body.
    pub scraped: u64,
    /// Samples kept after metric relabeling (and within the sample limit).
    pub post_relabel: u64,
    pub series_added: u64,
}

/// The per-target state that spans scrapes.
pub(crate) struct Ingester {
    settings: Arc<ScrapeSettings>,
    target_labels: Labels,
    /// Series the last scrape wrote at its own timestamp: those missing next time get a stale marker.
    prev: HashSet<Labels>,
    /// Hashes of the series of the last successful scrape, for `scrape_series_added`.
    known: HashSet<u64>,
    /// Whether the report series exist, so they get stale markers when the target goes away.
    reported: bool,
    /// The timestamp of the last scrape.
    last_t: Option<i64>,
}

/// A sample that made it through relabeling and the limits.
struct Kept {
    labels: Labels,
    t: i64,
    v: f64,
    explicit_time: bool,
}

/// What went wrong with a body, with the counts Prometheus still reports for it.
struct Failed {
    message: String,
    scraped: u64,
    post_relabel: u64,
}

impl Ingester {
    pub fn new(settings: Arc<ScrapeSettings>, target_labels: Labels) -> Ingester {
        Ingester { settings, target_labels, prev: HashSet::new(), known: HashSet::new(), reported: false, last_t: None }
    }

    /// Continues with new settings (a reload), keeping the staleness state.
    pub fn retarget(&mut self, settings: Arc<ScrapeSettings>, target_labels: Labels) {
        self.settings = settings;
        self.target_labels = target_labels;
    }

    /// The timestamp of the last scrape, if any.
    pub fn last_time(&self) -> Option<i64> {
        self.last_t
    }

    /// The batches for one scrape at `t`: the body's series (none when it failed), stale markers for the series
    /// that disappeared, and the report series. Blocking: parses the whole body.
    pub fn scrape(
        &mut self,
        body: Result<&[u8], String>,
        format: Format,
        t: i64,
        started: Instant,
    ) -> (Vec<SeriesBatch>, Outcome) {
        let result = body.and_then(|b| std::str::from_utf8(b).map_err(|_| "response body is not UTF-8".to_owned()));
        let result = match result {
            Ok(text) => self.samples(text, format, t),
            Err(message) => Err(Failed { message, scraped: 0, post_relabel: 0 }),
        };
        let mut out = Vec::new();
        let mut outcome = Outcome::default();
        match result {
            Ok((kept, scraped)) => {
                let mut current = HashSet::with_capacity(self.prev.len());
                let mut known = HashSet::with_capacity(kept.len());
                for k in &kept {
                    let h = hash(&k.labels);
                    outcome.series_added += u64::from(!self.known.contains(&h));
                    known.insert(h);
                }
                outcome.scraped = scraped;
                outcome.post_relabel = kept.len() as u64;
                for k in kept {
                    if !k.explicit_time {
                        current.insert(k.labels.clone());
                    }
                    out.push(batch(k.labels, k.t, k.v));
                }
                for gone in self.prev.difference(&current) {
                    out.push(batch(gone.clone(), t, crate::stale_nan()));
                }
                self.prev = current;
                self.known = known;
            }
            Err(failed) => {
                // A failed scrape counts as an empty one: every series of the last scrape goes stale.
                out.extend(self.prev.drain().map(|l| batch(l, t, crate::stale_nan())));
                outcome.error = Some(failed.message);
                outcome.scraped = failed.scraped;
                outcome.post_relabel = failed.post_relabel;
            }
        }
        outcome.duration = started.elapsed();
        let up = if outcome.error.is_none() { 1.0 } else { 0.0 };
        let values = [
            up,
            outcome.duration.as_secs_f64(),
            outcome.scraped as f64,
            outcome.post_relabel as f64,
            outcome.series_added as f64,
        ];
        for (name, v) in REPORT_NAMES.iter().zip(values) {
            out.push(batch(self.report_labels(name), t, v));
        }
        self.reported = true;
        self.last_t = Some(t);
        (out, outcome)
    }

    /// Stale markers at `t` (or just after the last scrape) for everything this target wrote last: it is
    /// going away.
    pub fn stale_all(&mut self, t: i64) -> Vec<SeriesBatch> {
        let t = self.last_t.map_or(t, |last| t.max(last.saturating_add(1)));
        let mut out: Vec<SeriesBatch> = self.prev.drain().map(|l| batch(l, t, crate::stale_nan())).collect();
        if std::mem::take(&mut self.reported) {
            for name in REPORT_NAMES {
                out.push(batch(self.report_labels(name), t, crate::stale_nan()));
            }
        }
        out
    }

    fn report_labels(&self, name: &str) -> Labels {
        let mut labels = self.target_labels.clone();
        labels.set(METRIC_NAME, name);
        labels
    }

    /// Parses `text` and returns the samples to write and how many the body had.
    fn samples(&self, text: &str, format: Format, t: i64) -> Result<(Vec<Kept>, u64), Failed> {
        let s = &*self.settings;
        let families = vigil_proto::exposition::parse_with(text, format).map_err(|e| Failed {
            message: e.to_string(),
            scraped: 0,
            post_relabel: 0,
        })?;
        let mut kept: Vec<Kept> = Vec::new();
        let mut seen: HashSet<Labels> = HashSet::new();
        let mut scraped = 0u64;
        let mut limit_error = None;
        for sample in families.into_iter().flat_map(|f| f.samples) {
            scraped += 1;
            let fail = |message: String, kept: &Vec<Kept>| Failed { message, scraped, post_relabel: kept.len() as u64 };
            let mut pairs = sample.labels;
            pairs.push((METRIC_NAME.to_owned(), sample.name));
            let exposed = Labels::from_pairs(pairs).map_err(|e| fail(format!("invalid sample labels: {e}"), &kept))?;
            let labels = self.with_target_labels(exposed);
            let Some(labels) = relabel::process(labels, &s.metric_relabel) else { continue };
            check_labels(&labels, s).map_err(|m| fail(m, &kept))?;
            if !seen.insert(labels.clone()) {
                // Prometheus' storage refuses a second sample at the same time; the first one stays.
                continue;
            }
            if s.sample_limit > 0 && kept.len() as u64 >= s.sample_limit {
                limit_error = Some("sample limit exceeded".to_owned());
                continue;
            }
            let explicit = sample.timestamp_ms.filter(|_| s.honor_timestamps);
            kept.push(Kept { labels, t: explicit.unwrap_or(t), v: sample.value, explicit_time: explicit.is_some() });
        }
        match limit_error {
            Some(message) => Err(Failed { message, scraped, post_relabel: kept.len() as u64 }),
            None => Ok((kept, scraped)),
        }
    }

    /// Adds the target's labels. With `honor_labels` the exposed values win; otherwise the target's do and
    /// clashing exposed labels are kept as `exported_<name>` (more prefixes until the name is free).
    fn with_target_labels(&self, exposed: Labels) -> Labels {
        let mut out = exposed.clone();
        if self.settings.honor_labels {
            for l in self.target_labels.iter() {
                if exposed.get(&l.name).is_none() {
                    out.set(&l.name, &l.value);
                }
            }
            return out;
        }
        let mut clashes: Vec<(&str, &str)> = Vec::new();
        for l in self.target_labels.iter() {
            if let Some(v) = exposed.get(&l.name) {
                clashes.push((&l.name, v));
            }
            out.set(&l.name, &l.value);
        }
        // Shorter names pick their new name first, as in Prometheus.
        clashes.sort_by_key(|(name, _)| name.len());
        let mut taken: Vec<String> = Vec::new();
        for (name, value) in clashes {
            let mut renamed = name.to_owned();
            loop {
                renamed.insert_str(0, EXPORTED_PREFIX);
                let free = exposed.get(&renamed).is_none()
                    && self.target_labels.get(&renamed).is_none()
                    && !taken.contains(&renamed);
                if free {
                    break;
                }
            }
            out.set(&renamed, value);
            taken.push(renamed);
        }
        out
    }
}

/// The metric name is mandatory; the label limits apply after relabeling.
fn check_labels(labels: &Labels, s: &ScrapeSettings) -> Result<(), String> {
    let metric = labels.metric_name().ok_or_else(|| format!("missing metric name ({METRIC_NAME} label)"))?;
    let short: String = metric.chars().take(50).collect();
    if s.label_limit > 0 && labels.len() as u64 > s.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {short}, number of labels: {}, limit: {})",
            labels.len(),
            s.label_limit
        ));
    }
    for l in labels.iter() {
        if s.label_name_length_limit > 0 && l.name.len() as u64 > s.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {short}, label name: {}, length: {}, limit: {})",
                l.name,
                l.name.len(),
                s.label_name_length_limit
            ));
        }
        if s.label_value_length_limit > 0 && l.value.len() as u64 > s.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {short}, label name: {}, length: {}, limit: {})",
                l.name,
                l.value.len(),
                s.label_value_length_limit
            ));
        }
    }
    Ok(())
}

fn batch(labels: Labels, t: i64, v: f64) -> SeriesBatch {
    SeriesBatch { labels, samples: vec![Sample { t, v }] }
}

fn hash(labels: &Labels) -> u64 {
    let mut h = DefaultHasher::new();
    labels.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::Rule;
    use std::collections::BTreeMap;
    use vigil_config::scrape::RelabelConfig;

    fn settings(honor_labels: bool, metric_relabel: &str) -> Arc<ScrapeSettings> {
        let cfgs: Vec<RelabelConfig> =
            if metric_relabel.is_empty() { Vec::new() } else { serde_saphyr::from_str(metric_relabel).unwrap() };
        Arc::new(ScrapeSettings {
            job: "j".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels,
            honor_timestamps: true,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            body_size_limit: 1 << 20,
            auth: None,
            tls: Arc::new(vigil_tls::Connector::new(vigil_tls::TlsSettings::default()).unwrap()),
            relabel: Vec::new(),
            metric_relabel: Rule::compile(&cfgs).unwrap(),
        })
    }

    fn target() -> Labels {
        Labels::from_pairs([("job", "j"), ("instance", "h:1")]).unwrap()
    }

    fn find<'a>(out: &'a [SeriesBatch], series: &str) -> Option<&'a SeriesBatch> {
        out.iter().find(|b| b.labels.to_string() == series)
    }

    fn value(out: &[SeriesBatch], series: &str) -> f64 {
        find(out, series).unwrap_or_else(|| panic!("{series} missing from {out:#?}")).samples[0].v
    }

    #[test]
    fn writes_samples_with_target_labels_and_report_series() {
        let mut ing = Ingester::new(settings(false, ""), target());
        let (out, outcome) = ing.scrape(Ok(b"a 1\nb{x=\"y\"} 2\n"), Format::PrometheusText, 1000, Instant::now());
        assert_eq!(outcome.error, None);
        assert_eq!(value(&out, "a{instance=\"h:1\", job=\"j\"}"), 1.0);
        assert_eq!(value(&out, "b{instance=\"h:1\", job=\"j\", x=\"y\"}"), 2.0);
        assert_eq!(value(&out, "up{instance=\"h:1\", job=\"j\"}"), 1.0);
        assert_eq!(value(&out, "scrape_samples_scraped{instance=\"h:1\", job=\"j\"}"), 2.0);
        assert_eq!(value(&out, "scrape_samples_post_metric_relabeling{instance=\"h:1\", job=\"j\"}"), 2.0);
        assert_eq!(value(&out, "scrape_series_added{instance=\"h:1\", job=\"j\"}"), 2.0);
        assert!(out.iter().all(|b| b.samples[0].t == 1000));
        let (out, _) = ing.scrape(Ok(b"a 1\nb{x=\"y\"} 2\n"), Format::PrometheusText, 2000, Instant::now());
        assert_eq!(value(&out, "scrape_series_added{instance=\"h:1\", job=\"j\"}"), 0.0);
    }

    #[test]
    fn conflicting_labels_are_exported_unless_honored() {
        let body = b"m{job=\"other\",instance=\"i\",exported_job=\"taken\"} 1\n";
        let mut ing = Ingester::new(settings(false, ""), target());
        let (out, _) = ing.scrape(Ok(body), Format::PrometheusText, 1, Instant::now());
        let want = "m{exported_exported_job=\"other\", exported_instance=\"i\", exported_job=\"taken\", instance=\"h:1\", job=\"j\"}";
        assert_eq!(value(&out, want), 1.0);
        let mut ing = Ingester::new(settings(true, ""), target());
        let (out, _) = ing.scrape(Ok(body), Format::PrometheusText, 1, Instant::now());
        assert_eq!(value(&out, "m{exported_job=\"taken\", instance=\"i\", job=\"other\"}"), 1.0);
        // Honoring only keeps exposed values; missing target labels are still added.
        let (out, _) = ing.scrape(Ok(b"m 1\n"), Format::PrometheusText, 2, Instant::now());
        assert_eq!(value(&out, "m{instance=\"h:1\", job=\"j\"}"), 1.0);
    }

    #[test]
    fn disappearing_series_get_stale_markers() {
        let mut ing = Ingester::new(settings(false, ""), target());
        ing.scrape(Ok(b"a 1\nb 2\nc 3 123\n"), Format::PrometheusText, 1000, Instant::now());
        let (out, _) = ing.scrape(Ok(b"a 1\n"), Format::PrometheusText, 2000, Instant::now());
        let b = find(&out, "b{instance=\"h:1\", job=\"j\"}").unwrap();
        assert!(crate::is_stale_nan(b.samples[0].v));
        assert_eq!(b.samples[0].t, 2000);
        // Series with their own timestamps are not tracked for staleness.
        assert!(find(&out, "c{instance=\"h:1\", job=\"j\"}").is_none());
        let stale = ing.stale_all(3000);
        let names: Vec<String> = stale.iter().map(|b| b.labels.to_string()).collect();
        assert_eq!(stale.len(), 6, "{names:?}");
        assert!(stale.iter().all(|b| crate::is_stale_nan(b.samples[0].v) && b.samples[0].t == 3000));
        assert!(ing.stale_all(4000).is_empty());
    }

    #[test]
    fn failures_make_everything_stale_and_up_zero() {
        let mut ing = Ingester::new(settings(false, ""), target());
        ing.scrape(Ok(b"a 1\n"), Format::PrometheusText, 1000, Instant::now());
        let (out, outcome) = ing.scrape(Err("connection refused".into()), Format::PrometheusText, 2000, Instant::now());
        assert_eq!(outcome.error.as_deref(), Some("connection refused"));
        assert!(crate::is_stale_nan(value(&out, "a{instance=\"h:1\", job=\"j\"}")));
        assert_eq!(value(&out, "up{instance=\"h:1\", job=\"j\"}"), 0.0);
        let (out, outcome) = ing.scrape(Ok(b"a 1\nnot valid at all\n"), Format::PrometheusText, 3000, Instant::now());
        assert!(outcome.error.unwrap().starts_with("line 2:"));
        assert_eq!(value(&out, "up{instance=\"h:1\", job=\"j\"}"), 0.0);
        assert!(find(&out, "a{instance=\"h:1\", job=\"j\"}").is_none(), "already stale");
        let (_, outcome) = ing.scrape(Ok(b"a 1\n"), Format::PrometheusText, 4000, Instant::now());
        assert_eq!(outcome.series_added, 0, "a failed scrape does not forget known series");
        let (_, outcome) = ing.scrape(Ok(&[0xff, 0xfe]), Format::PrometheusText, 5000, Instant::now());
        assert!(outcome.error.is_some());
    }

    #[test]
    fn metric_relabeling_drops_and_rewrites() {
        let rules = "- {source_labels: [__name__], regex: 'go_.*', action: drop}\n\
                     - {source_labels: [__name__], regex: '(.*)_total', target_label: __name__, replacement: '${1}_count'}";
        let mut ing = Ingester::new(settings(false, rules), target());
        let (out, outcome) = ing.scrape(Ok(b"go_gc 1\nreq_total 5\n"), Format::PrometheusText, 1, Instant::now());
        assert_eq!((outcome.scraped, outcome.post_relabel), (2, 1));
        assert_eq!(value(&out, "req_count{instance=\"h:1\", job=\"j\"}"), 5.0);
        assert!(out.iter().all(|b| b.labels.metric_name() != Some("go_gc")));
        // Relabeling away the name fails the scrape.
        let mut ing = Ingester::new(settings(false, "- {action: labeldrop, regex: __name__}"), target());
        let (_, outcome) = ing.scrape(Ok(b"x 1\n"), Format::PrometheusText, 1, Instant::now());
        assert_eq!(outcome.error.as_deref(), Some("missing metric name (__name__ label)"));
    }

    #[test]
    fn limits_fail_the_scrape() {
        let mut s = (*settings(false, "")).clone();
        s.sample_limit = 2;
        let mut ing = Ingester::new(Arc::new(s.clone()), target());
        let (_, outcome) = ing.scrape(Ok(b"a 1\nb 1\n"), Format::PrometheusText, 1, Instant::now());
        assert_eq!(outcome.error, None);
        let (out, outcome) = ing.scrape(Ok(b"a 1\nb 1\nc 1\n"), Format::PrometheusText, 2, Instant::now());
        assert_eq!(outcome.error.as_deref(), Some("sample limit exceeded"));
        assert_eq!((outcome.scraped, outcome.post_relabel), (3, 2));
        assert!(crate::is_stale_nan(value(&out, "a{instance=\"h:1\", job=\"j\"}")));
        s.sample_limit = 0;
        s.label_limit = 3;
        let mut ing = Ingester::new(Arc::new(s.clone()), target());
        let (_, outcome) = ing.scrape(Ok(b"a{x=\"1\"} 1\n"), Format::PrometheusText, 1, Instant::now());
        assert!(outcome.error.unwrap().starts_with("label_limit exceeded (metric: a, number of labels: 4, limit: 3)"));
        s.label_limit = 0;
        s.label_value_length_limit = 3;
        let mut ing = Ingester::new(Arc::new(s), target());
        let (_, outcome) = ing.scrape(Ok(b"a{x=\"long\"} 1\n"), Format::PrometheusText, 1, Instant::now());
        assert!(outcome.error.unwrap().starts_with("label_value_length_limit exceeded"));
    }

    #[test]
    fn timestamps_honored_or_not() {
        let mut ing = Ingester::new(settings(false, ""), target());
        let (out, _) = ing.scrape(Ok(b"a 1 500\n"), Format::PrometheusText, 1000, Instant::now());
        assert_eq!(find(&out, "a{instance=\"h:1\", job=\"j\"}").unwrap().samples[0].t, 500);
        let mut s = (*settings(false, "")).clone();
        s.honor_timestamps = false;
        let mut ing = Ingester::new(Arc::new(s), target());
        let (out, _) = ing.scrape(Ok(b"a 1 500\n"), Format::PrometheusText, 1000, Instant::now());
        assert_eq!(find(&out, "a{instance=\"h:1\", job=\"j\"}").unwrap().samples[0].t, 1000);
    }

    #[test]
    fn duplicate_series_keep_the_first_sample() {
        let mut ing = Ingester::new(settings(false, ""), target());
        let (out, outcome) = ing.scrape(Ok(b"a 1\na 2\n"), Format::PrometheusText, 1, Instant::now());
        assert_eq!((outcome.scraped, outcome.post_relabel), (2, 1));
        assert_eq!(value(&out, "a{instance=\"h:1\", job=\"j\"}"), 1.0);
    }
}
