//! Wakes rule groups when samples of the metrics their alerting rules select are ingested, so an alert is
//! evaluated (and its `for` started) when its data arrives rather than at the next aligned evaluation.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

/// Who wants to hear of which metric names. Shared by the ingest paths (scrape, remote_write, local
/// collection) and the rule manager, which replaces the interests whenever its groups change.
#[derive(Default)]
pub struct IngestWatch {
    interests: RwLock<Arc<Interests>>,
}

#[derive(Default)]
struct Interests {
    by_name: HashMap<String, Vec<Arc<Notify>>>,
    /// Groups with a selector that names no metric: any sample may matter to them.
    any: Vec<Arc<Notify>>,
}

impl IngestWatch {
    pub fn new() -> IngestWatch {
        IngestWatch::default()
    }

    /// Replaces every interest: each waker with the metric names it wants, `None` for any.
    pub fn set(&self, wakers: Vec<(Arc<Notify>, Option<Vec<String>>)>) {
        let mut interests = Interests::default();
        for (notify, names) in wakers {
            match names {
                None => interests.any.push(notify),
                Some(names) => {
                    for name in names {
                        interests.by_name.entry(name).or_default().push(notify.clone());
                    }
                }
            }
        }
        *self.interests.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(interests);
    }

    /// Whether nobody listens: ingest paths then skip collecting names.
    pub fn is_idle(&self) -> bool {
        let interests = self.interests.read().unwrap_or_else(|e| e.into_inner());
        interests.by_name.is_empty() && interests.any.is_empty()
    }

    /// Tells the interested groups that samples of these metrics were just stored (acknowledged). Names in a
    /// row repeat (a scrape's series come family by family), so repeats are skipped cheaply.
    pub fn touched<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let interests = self.interests.read().unwrap_or_else(|e| e.into_inner()).clone();
        if interests.by_name.is_empty() && interests.any.is_empty() {
            return;
        }
        let mut any_sample = false;
        let mut previous: Option<&str> = None;
        for name in names {
            any_sample = true;
            if previous == Some(name) {
                continue;
            }
            previous = Some(name);
            if let Some(wakers) = interests.by_name.get(name) {
                wakers.iter().for_each(|n| n.notify_one());
            }
        }
        if any_sample {
            interests.any.iter().for_each(|n| n.notify_one());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn woken(n: &Notify) -> bool {
        // A stored permit completes `notified()` at once.
        let fut = n.notified();
        tokio::pin!(fut);
        let waker = std::task::Waker::noop();
        fut.poll(&mut std::task::Context::from_waker(waker)).is_ready()
    }

    use std::future::Future;

    #[test]
    fn only_groups_selecting_a_touched_metric_wake() {
        let watch = IngestWatch::new();
        assert!(watch.is_idle());
        let (up, load, any) = (Arc::new(Notify::new()), Arc::new(Notify::new()), Arc::new(Notify::new()));
        watch.set(vec![
            (up.clone(), Some(vec!["up".into()])),
            (load.clone(), Some(vec!["node_load1".into()])),
            (any.clone(), None),
        ]);
        assert!(!watch.is_idle());
        watch.touched(["up", "up", "scrape_duration_seconds"]);
        assert!(woken(&up));
        assert!(!woken(&load));
        assert!(woken(&any));
        watch.touched([]);
        assert!(!woken(&any), "no samples, nothing to evaluate");
    }
}
