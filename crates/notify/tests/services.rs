//! Each service's documented request: method, path, headers, JSON fields and truncation at its limits.

use vigil_alerting::config::IntegrationKind;
use vigil_alerting::AlertStatus;
use vigil_notify::Outcome;

use crate::support::*;

#[tokio::test]
async fn webhook_posts_alertmanagers_v4_body_with_basic_auth() {
    let server = Server::start(|_| ok()).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  webhook_configs:\n  - url: {}/hook\n    http_config:\n      basic_auth: {{username: u, password: p}}\n",
        server.base
    ));
    let n = firing(IntegrationKind::Webhook);
    notifier.notify(n.clone());
    let r = report(&mut rx).await;
    assert_eq!((r.outcome, r.attempts, r.id), (Outcome::Delivered, 1, 7));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/hook"));
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert_eq!(seen[0].headers["authorization"], "Basic dTpw");
    assert_eq!(seen[0].body, vigil_alerting::webhook::render(&n, 0));
}

#[tokio::test]
async fn webhook_without_send_resolved_skips_resolved_groups() {
    let server = Server::start(|_| ok()).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  webhook_configs:\n  - url: {}/hook\n    send_resolved: false\n",
        server.base
    ));
    notifier.notify(resolved(IntegrationKind::Webhook));
    let r = report(&mut rx).await;
    assert!(r.succeeded());
    assert_eq!((r.outcome, r.attempts), (Outcome::Skipped, 0));
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn slack_attachment_from_default_templates_with_title_limit() {
    let server = Server::start(|_| ok()).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  slack_configs:\n  - api_url: {}/services/T/B/X\n    channel: '#ops'\n    fields:\n    - {{title: sev, value: '{{{{ .CommonLabels.severity }}}}', short: true}}\n    actions:\n    - {{type: button, text: Runbook, url: 'http://rb/{{{{ .GroupLabels.alertname }}}}'}}\n",
        server.base
    ));
    notifier.notify(firing(IntegrationKind::Slack));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    let mut long = firing(IntegrationKind::Slack);
    let name = "x".repeat(2000);
    long.group_labels.insert("alertname".into(), name.clone());
    notifier.notify(long);
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);

    let seen = server.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/services/T/B/X"));
    let body = seen[0].json();
    assert_eq!(body["channel"], "#ops");
    assert_eq!(body["username"], "vigil");
    let att = &body["attachments"][0];
    assert_eq!(att["title"], "[FIRING:1] HighLatency (db1:9090 critical)");
    assert_eq!(att["title_link"], "http://am.example:9093/#/alerts?receiver=team");
    assert_eq!(att["color"], "danger");
    assert_eq!(att["text"], "• Latency is high on db1\n");
    assert_eq!(
        att["fallback"],
        "[FIRING:1] HighLatency (db1:9090 critical) | http://am.example:9093/#/alerts?receiver=team"
    );
    assert_eq!(att["fields"], serde_json::json!([{ "title": "sev", "value": "critical", "short": true }]));
    assert_eq!(
        att["actions"],
        serde_json::json!([{ "type": "button", "text": "Runbook", "url": "http://rb/HighLatency" }])
    );
    assert_eq!(att["mrkdwn_in"], serde_json::json!(["fallback", "pretext", "text"]));
    let title = seen[1].json()["attachments"][0]["title"].as_str().unwrap().to_owned();
    assert_eq!(title.chars().count(), 1024);
    assert!(title.starts_with("[FIRING:1] xxx") && title.ends_with("x…"), "{title}");
}

#[tokio::test]
async fn slack_blocks_templated_and_cut_to_block_kit_limits() {
    let server = Server::start(|_| ok()).await;
    let (notifier, mut rx) = notifier(&format!(
        concat!(
            "- name: team\n  slack_configs:\n  - api_url: {}/services/T/B/X\n    blocks:\n",
            "    - {{type: header, text: {{type: plain_text, text: '{{{{ .CommonLabels.alertname }}}}'}}}}\n",
            "    - type: section\n      text: {{type: mrkdwn, text: '*{{{{ .Status }}}}* {{{{ .CommonAnnotations.summary }}}}'}}\n",
            "      fields: [{{type: mrkdwn, text: '{{{{ .CommonLabels.severity }}}}'}}]\n",
            "    - {{type: divider, n: 3, ok: true}}\n",
        ),
        server.base
    ));
    notifier.notify(firing(IntegrationKind::Slack));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    let mut long = firing(IntegrationKind::Slack);
    long.alerts[0].labels.insert("alertname".into(), "h".repeat(200));
    long.alerts[0].annotations.insert("summary".into(), "é".repeat(4000));
    notifier.notify(long);
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);

    let seen = server.seen();
    let body = seen[0].json();
    assert_eq!(body["attachments"][0]["color"], "danger");
    assert_eq!(
        body["blocks"],
        serde_json::json!([
            { "type": "header", "text": { "type": "plain_text", "text": "HighLatency" } },
            {
                "type": "section",
                "text": { "type": "mrkdwn", "text": "*firing* Latency is high on db1" },
                "fields": [{ "type": "mrkdwn", "text": "critical" }],
            },
            { "type": "divider", "n": 3, "ok": true },
        ])
    );
    let blocks = &seen[1].json()["blocks"];
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert_eq!(header.chars().count(), 150);
    assert!(header.ends_with("hh…"), "{header}");
    let section = blocks[1]["text"]["text"].as_str().unwrap();
    assert_eq!(section.chars().count(), 3000);
    assert!(section.starts_with("*firing* éé") && section.ends_with("é…"), "{section}");
}

#[tokio::test]
async fn discord_embed_with_limits_and_status_colour() {
    let server = Server::start(|_| (204, Vec::new(), String::new())).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  discord_configs:\n  - webhook_url: {}/api/webhooks/1/tok\n    content: '{{{{ .CommonAnnotations.summary }}}}'\n",
        server.base
    ));
    let mut n = firing(IntegrationKind::Discord);
    n.group_labels.insert("alertname".into(), "é".repeat(300));
    n.alerts[0].annotations.insert("summary".into(), "s".repeat(2500));
    notifier.notify(n);
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    notifier.notify(resolved(IntegrationKind::Discord));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);

    let seen = server.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/api/webhooks/1/tok"));
    let body = seen[0].json();
    let embed = &body["embeds"][0];
    let title = embed["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 256);
    assert!(title.ends_with("é…"));
    assert_eq!(embed["color"], 0xD3_2F2F);
    assert_eq!(body["content"].as_str().unwrap().chars().count(), 2000);
    assert!(embed["description"].as_str().unwrap().starts_with("Firing (1):\n"));
    let body = seen[1].json();
    assert_eq!(body["embeds"][0]["color"], 0x2E_7D32);
    assert_eq!(body["embeds"][0]["title"], "[RESOLVED] HighLatency (db1:9090 critical)");
    assert_eq!(body["content"], "Latency is high on db1");
}

#[tokio::test]
async fn telegram_send_message_under_the_bot_path() {
    let server = Server::start(|_| (200, Vec::new(), r#"{"ok":true}"#.into())).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "123:abc\n").unwrap();
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  telegram_configs:\n  - api_url: {}\n    bot_token_file: {}\n    chat_id: -1001\n    disable_notifications: true\n    message: '{{{{ .CommonAnnotations.summary }}}}'\n",
        server.base,
        token_file.display()
    ));
    let mut n = firing(IntegrationKind::Telegram);
    n.alerts[0].annotations.insert("summary".into(), "€".repeat(5000));
    notifier.notify(n);
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    let seen = server.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/bot123:abc/sendMessage"));
    let body = seen[0].json();
    assert_eq!(body["chat_id"], -1001);
    assert_eq!(body["parse_mode"], "HTML");
    assert_eq!(body["disable_notification"], true);
    let text = body["text"].as_str().unwrap();
    assert_eq!(text.chars().count(), 4096);
    assert!(text.ends_with("€…"));
}

#[tokio::test]
async fn pagerduty_events_v2_trigger_and_resolve() {
    let server = Server::start(|_| (202, Vec::new(), r#"{"status":"success"}"#.into())).await;
    let (notifier, mut rx) = notifier(&format!(
        "- name: team\n  pagerduty_configs:\n  - routing_key: rk\n    url: {}/v2/enqueue\n    severity: '{{{{ .CommonLabels.severity }}}}'\n    links: [{{href: 'http://rb', text: runbook}}]\n",
        server.base
    ));
    let mut n = firing(IntegrationKind::Pagerduty);
    n.group_labels.insert("alertname".into(), "y".repeat(1500));
    notifier.notify(n.clone());
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);
    notifier.notify(resolved(IntegrationKind::Pagerduty));
    assert_eq!(report(&mut rx).await.outcome, Outcome::Delivered);

    let seen = server.seen();
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("POST", "/v2/enqueue"));
    let ev = seen[0].json();
    assert_eq!(ev["routing_key"], "rk");
    assert_eq!(ev["event_action"], "trigger");
    // sha256("{}:{alertname=\"HighLatency\"}"), as Alertmanager's `Key.Hash`.
    assert_eq!(ev["dedup_key"], vigil_notify::group_key_hash(&n.group_key));
    assert_eq!(vigil_notify::group_key_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(ev["client"], "vigil");
    assert_eq!(ev["client_url"], "http://am.example:9093/#/alerts?receiver=team");
    assert_eq!(ev["links"], serde_json::json!([{ "href": "http://rb", "text": "runbook" }]));
    let p = &ev["payload"];
    assert_eq!(p["summary"].as_str().unwrap().chars().count(), 1024);
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["source"], "vigil");
    assert_eq!(p["custom_details"]["num_firing"], "1");
    assert!(p["custom_details"]["firing"].as_str().unwrap().contains("instance: db1:9090"));
    let ev = seen[1].json();
    assert_eq!(ev["event_action"], "resolve");
    assert_eq!(ev["dedup_key"], seen[0].json()["dedup_key"]);
    assert!(ev.get("payload").is_none());
    let _ = AlertStatus::Firing;
}
