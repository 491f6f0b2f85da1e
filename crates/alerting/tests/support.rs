//! A simulated Alertmanager for timeline tests: a dispatcher driven by a manual clock, times given in
//! seconds after a fixed start, every notification recorded with the time it went out.

use std::collections::BTreeMap;

use vigil_alerting::{
    AlertmanagerConfig, Clock, Dispatcher, DispatcherOptions, ManualClock, Notification, PostableAlert,
    PostableSilence, Timestamp,
};

/// 2024-01-01T00:00:00Z, a Monday.
pub const T0: i64 = 1_704_067_200;

pub fn at(secs: f64) -> Timestamp {
    Timestamp::from_nanos(T0 * 1_000_000_000 + (secs * 1e9).round() as i64)
}

pub fn secs(t: Timestamp) -> f64 {
    (t.as_nanos() - T0 * 1_000_000_000) as f64 / 1e9
}

pub fn config(yaml: &str) -> AlertmanagerConfig {
    AlertmanagerConfig::parse(yaml, "alertmanager.yml").unwrap_or_else(|e| panic!("{e}"))
}

/// An alert to post, built like the acceptance tests' `Alert(...).Active(...)`.
#[derive(Clone)]
pub struct A(pub PostableAlert);

pub fn alert(pairs: &[(&str, &str)]) -> A {
    A(PostableAlert {
        labels: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..PostableAlert::default()
    })
}

impl A {
    /// Started at `start` seconds, still firing (no end given).
    pub fn active(mut self, start: f64) -> A {
        self.0.starts_at = Some(at(start));
        self
    }

    /// Started at `start` and still firing, with an end far ahead as Prometheus sends it (Prometheus posts
    /// firing alerts with `endsAt` a few evaluation intervals ahead and keeps re-posting them).
    pub fn firing(mut self, start: f64) -> A {
        self.0.starts_at = Some(at(start));
        self.0.ends_at = Some(at(1e7));
        self
    }

    /// Started at `start`, ended at `end`.
    pub fn between(mut self, start: f64, end: f64) -> A {
        self.0.starts_at = Some(at(start));
        self.0.ends_at = Some(at(end));
        self
    }

    pub fn annotate(mut self, k: &str, v: &str) -> A {
        self.0.annotations.insert(k.to_owned(), v.to_owned());
        self
    }
}

pub struct Sim {
    pub d: Dispatcher,
    pub clock: ManualClock,
    /// Every notification and the time (seconds) it was sent.
    pub sent: Vec<(f64, Notification)>,
    /// Receivers whose deliveries fail until the given second.
    pub failing_until: BTreeMap<String, f64>,
}

impl Sim {
    pub fn new(yaml: &str) -> Sim {
        let d = Dispatcher::new(&config(yaml), DispatcherOptions::default(), at(0.0));
        Sim { d, clock: ManualClock::new(at(0.0)), sent: Vec::new(), failing_until: BTreeMap::new() }
    }

    /// Runs everything due up to `t` seconds, in time order, delivering notifications as they come.
    pub fn advance_to(&mut self, t: f64) {
        let target = at(t);
        while let Some(due) = self.d.next_deadline().filter(|&d| d <= target) {
            let now = due.max(self.clock.now());
            self.clock.set(now);
            for n in self.d.run_due(now) {
                let key = format!("{}/{}{}", n.receiver, n.integration.kind.as_str(), n.integration.index);
                if self.failing_until.get(&key).is_some_and(|&until| secs(now) < until) {
                    self.d.failed(n.id);
                } else {
                    self.d.delivered(n.id, now);
                    self.sent.push((secs(now), n));
                }
            }
        }
        self.clock.set(target.max(self.clock.now()));
    }

    pub fn push(&mut self, t: f64, alerts: &[A]) {
        self.advance_to(t);
        self.d.ingest(alerts.iter().map(|a| a.0.clone()).collect(), self.clock.now()).expect("valid alerts");
    }

    pub fn silence(&mut self, t: f64, matchers: &str, start: f64, end: f64) -> String {
        self.advance_to(t);
        let p = PostableSilence {
            matchers: vigil_alerting::Matchers::parse(matchers).unwrap().0,
            starts_at: at(start),
            ends_at: at(end),
            created_by: "test".into(),
            comment: "test".into(),
            ..PostableSilence::default()
        };
        let now = self.clock.now();
        self.d.silences_mut().post(p, now).unwrap()
    }

    pub fn expire_silence(&mut self, t: f64, id: &str) {
        self.advance_to(t);
        let now = self.clock.now();
        self.d.silences_mut().expire(id, now).unwrap();
    }

    /// The notifications sent so far as `time receiver/integration: alert, alert`, where an alert is its
    /// label values joined by `,`, then `@start` and, once resolved, `-end` (seconds).
    pub fn log(&self) -> Vec<String> {
        self.sent.iter().map(|(t, n)| summary(*t, n)).collect()
    }
}

pub fn fmt_secs(s: f64) -> String {
    let r = (s * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

pub fn summary(t: f64, n: &Notification) -> String {
    let alerts: Vec<String> = n
        .alerts
        .iter()
        .map(|a| {
            let values: Vec<&str> = a.labels.values().map(String::as_str).collect();
            let end = a.ends_at.map(|e| format!("-{}", fmt_secs(secs(e)))).unwrap_or_default();
            format!("{}@{}{end}", values.join(","), fmt_secs(secs(a.starts_at)))
        })
        .collect();
    format!(
        "{} {}/{}{}: {}",
        fmt_secs(t),
        n.receiver,
        n.integration.kind.as_str(),
        n.integration.index,
        alerts.join(" ")
    )
}
