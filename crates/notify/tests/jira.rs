//! The Jira lifecycle against a fake Jira: create, comment while firing, resolve, reopen; never two issues.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use vigil_alerting::config::IntegrationKind;
use vigil_notify::Outcome;

use crate::support::*;

#[derive(Debug, Default)]
struct Issue {
    key: String,
    labels: Vec<String>,
    done: bool,
    comments: usize,
    fields: Value,
}

fn fake_jira(state: Arc<Mutex<Vec<Issue>>>) -> impl Fn(&Seen) -> Answer + Send + Sync {
    move |req| {
        let mut issues = state.lock().unwrap();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let path = req.path.as_str();
        match (req.method.as_str(), path) {
            ("POST", "/rest/api/2/search") => {
                let jql = body["jql"].as_str().unwrap();
                let found: Vec<Value> = issues
                    .iter()
                    .filter(|i| i.labels.iter().any(|l| jql.contains(&format!("labels = \"{l}\""))))
                    .map(|i| {
                        let cat = if i.done { "done" } else { "new" };
                        json!({ "key": i.key, "fields": { "status": { "statusCategory": { "key": cat } } } })
                    })
                    .collect();
                (200, Vec::new(), json!({ "issues": found }).to_string())
            }
            ("POST", "/rest/api/2/issue") => {
                let key = format!("OPS-{}", issues.len() + 1);
                let fields = body["fields"].clone();
                let labels =
                    fields["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect();
                issues.push(Issue { key: key.clone(), labels, done: false, comments: 0, fields });
                (201, Vec::new(), json!({ "key": key }).to_string())
            }
            (method, p) if p.starts_with("/rest/api/2/issue/OPS-") => {
                let rest = &p["/rest/api/2/issue/".len()..];
                let (key, action) = rest.split_once('/').unwrap();
                let issue = issues.iter_mut().find(|i| i.key == key).unwrap();
                match (method, action) {
                    ("POST", "comment") => {
                        issue.comments += 1;
                        (201, Vec::new(), "{}".into())
                    }
                    ("GET", "transitions") => (
                        200,
                        Vec::new(),
                        json!({ "transitions": [{ "id": "31", "name": "Done" }, { "id": "41", "name": "Reopen" }] })
                            .to_string(),
                    ),
                    ("POST", "transitions") => {
                        issue.done = body["transition"]["id"] == "31";
                        (204, Vec::new(), String::new())
                    }
                    _ => (404, Vec::new(), String::new()),
                }
            }
            _ => (404, Vec::new(), String::new()),
        }
    }
}

#[tokio::test]
async fn one_issue_per_group_through_its_lifecycle() {
    let state = Arc::new(Mutex::new(Vec::<Issue>::new()));
    let server = Server::start(fake_jira(state.clone())).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  jira_configs:\n  - api_url: {}\n    project: OPS\n    issue_type: Bug\n    labels: [vigil]\n    priority: High\n    resolve_transition: Done\n    reopen_transition: Reopen\n    http_config:\n      authorization: {{credentials: tok}}\n",
        server.base
    ));
    let step = |n| {
        notifier.notify(n);
    };
    step(firing(IntegrationKind::Jira));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    {
        let issues = state.lock().unwrap();
        assert_eq!(issues.len(), 1);
        let f = &issues[0].fields;
        assert_eq!(f["project"]["key"], "OPS");
        assert_eq!(f["issuetype"]["name"], "Bug");
        assert_eq!(f["priority"]["name"], "High");
        assert_eq!(f["summary"], "[FIRING:1] HighLatency (db1:9090 critical)");
        let hash = vigil_notify::group_key_hash("{}:{alertname=\"HighLatency\"}");
        assert_eq!(f["labels"], json!([format!("ALERT{{{hash}}}"), "vigil"]));
    }
    assert_eq!(server.seen()[0].headers["authorization"], "Bearer tok");

    step(firing(IntegrationKind::Jira));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    {
        let issues = state.lock().unwrap();
        assert_eq!((issues.len(), issues[0].comments), (1, 1));
    }

    step(resolved(IntegrationKind::Jira));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    assert!(state.lock().unwrap()[0].done);

    step(firing(IntegrationKind::Jira));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    let issues = state.lock().unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(!issues[0].done);
    assert_eq!(issues[0].comments, 3);
}
