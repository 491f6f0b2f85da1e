//! Retries, backoff and their limits, outcome counters and the history.

use std::time::Duration;

use vigil_alerting::config::IntegrationKind;
use vigil_notify::{AlertsSummary, Outcome, OutcomeCount, RequestCount};

use crate::support::*;

fn webhook(base: &str) -> String {
    format!("- name: team\n  webhook_configs:\n  - url: {base}/hook\n")
}

#[tokio::test]
async fn retries_on_500_until_delivered() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = Server::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            (500, Vec::new(), "busy".into())
        } else {
            ok()
        }
    })
    .await;
    let (notifier, mut rx) = notifier(&webhook(&server.base));
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert_eq!((r.outcome, r.attempts), (Outcome::Delivered, 3));
    assert_eq!(server.seen().len(), 3);
    assert_eq!(notifier.request_counts(), vec![RequestCount { integration: "webhook", total: 3, failed: 2 }]);
    assert_eq!(
        notifier.outcome_counts(),
        vec![OutcomeCount { integration: "webhook", outcome: "delivered", value: 1 }]
    );
    let h = notifier.history();
    assert_eq!(h.len(), 1);
    assert_eq!((h[0].outcome, h[0].attempts, h[0].status, h[0].receiver.as_str()), ("delivered", 3, "firing", "team"));
    assert_eq!(h[0].alerts, AlertsSummary { firing: 1, resolved: 0, alertnames: vec!["HighLatency".into()] });
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = Server::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            (429, vec![("Retry-After", "1".into())], "slow down".into())
        } else {
            ok()
        }
    })
    .await;
    let (notifier, mut rx) = notifier(&webhook(&server.base));
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert_eq!((r.outcome, r.attempts), (Outcome::Delivered, 2));
    let seen = server.seen();
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

#[tokio::test]
async fn no_retry_on_400() {
    let server = Server::start(|_| (400, Vec::new(), "bad payload".into())).await;
    let (notifier, mut rx) = notifier(&webhook(&server.base));
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert_eq!(r.attempts, 1);
    let Outcome::Failed(error) = &r.outcome else { panic!("{r:?}") };
    assert!(error.contains("400") && error.contains("bad payload"), "{error}");
    assert!(!r.succeeded());
    assert_eq!(server.seen().len(), 1);
    let h = notifier.history();
    assert_eq!((h[0].outcome, h[0].error.as_deref()), ("failed", Some(error.as_str())));
}

#[tokio::test]
async fn gives_up_when_the_retry_budget_is_spent() {
    let server = Server::start(|_| (503, Vec::new(), String::new())).await;
    let yaml = format!("route:\n  receiver: team\nreceivers:\n{}", webhook(&server.base));
    let config = vigil_alerting::AlertmanagerConfig::parse(&yaml, "test.yml").unwrap();
    let mut opts = options();
    opts.retry_budget = Duration::from_millis(300);
    let (notifier, mut rx) = vigil_notify::Notifier::new(&config, opts).unwrap();
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    let Outcome::Failed(error) = &r.outcome else { panic!("{r:?}") };
    assert!(error.contains("503") && error.contains("gave up"), "{error}");
    assert!(r.attempts > 1);
    assert_eq!(server.seen().len() as u32, r.attempts);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let yaml = format!("route:\n  receiver: team\nreceivers:\n{}", webhook(&base));
    let config = vigil_alerting::AlertmanagerConfig::parse(&yaml, "test.yml").unwrap();
    let mut opts = options();
    opts.retry_budget = Duration::from_millis(200);
    let (notifier, mut rx) = vigil_notify::Notifier::new(&config, opts).unwrap();
    notifier.notify(firing(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert!(matches!(&r.outcome, Outcome::Failed(e) if e.contains("connecting")), "{r:?}");
    assert!(r.attempts > 1);
}

#[tokio::test]
async fn unknown_integration_fails_at_once() {
    let (notifier, mut rx) = notifier("- name: team\n");
    notifier.notify(firing(IntegrationKind::Slack));
    let r = report(&mut rx).await;
    assert!(matches!(r.outcome, Outcome::Failed(_)));
}

/// A reload: the old notifier, dropped with a notification still retrying, finishes it; the new one sends to
/// its own configuration; reports arrive on the one receiver and counters and history are shared. Once every
/// notifier is gone, the receiver closes.
#[tokio::test]
async fn a_reconfigured_notifier_shares_counts_and_the_old_one_drains() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let old = Server::start(move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
            (500, Vec::new(), "busy".into())
        } else {
            ok()
        }
    })
    .await;
    let new = Server::start(|_| ok()).await;
    let (notifier, mut rx) = notifier(&webhook(&old.base));
    notifier.notify(firing(IntegrationKind::Webhook));
    let yaml = format!("route:\n  receiver: team\nreceivers:\n{}", webhook(&new.base));
    let config = vigil_alerting::AlertmanagerConfig::parse(&yaml, "test.yml").unwrap();
    let reconfigured = notifier.reconfigured(&config).unwrap();
    drop(notifier);
    let mut second = firing(IntegrationKind::Webhook);
    second.id = 8;
    reconfigured.notify(second);
    let mut reports = [report(&mut rx).await, report(&mut rx).await];
    reports.sort_by_key(|r| r.id);
    assert_eq!(
        reports.map(|r| (r.id, r.outcome, r.attempts)),
        [(7, Outcome::Delivered, 3), (8, Outcome::Delivered, 1)]
    );
    assert_eq!((old.seen().len(), new.seen().len()), (3, 1));
    assert_eq!(
        reconfigured.outcome_counts(),
        vec![OutcomeCount { integration: "webhook", outcome: "delivered", value: 2 }]
    );
    assert_eq!(reconfigured.request_counts(), vec![RequestCount { integration: "webhook", total: 4, failed: 2 }]);
    assert_eq!(reconfigured.history().len(), 2);
    drop(reconfigured);
    let closed = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("the channel closes");
    assert!(closed.is_none());
}
