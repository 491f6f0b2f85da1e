//! `alertmanager.yml` parsing: a realistic file with every section, then each validation error with its
//! position. Messages follow Alertmanager 0.25 (`amtool check-config`) where it has one.

use std::time::Duration;

use vigil_alerting::config::IntegrationKind;
use vigil_alerting::route::{Route, DEFAULT_REPEAT_INTERVAL};
use vigil_alerting::AlertmanagerConfig;

const FULL: &str = r#"
global:
  resolve_timeout: 2m
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'alertmanager'
  smtp_auth_password: 'hunter2'
  slack_api_url: 'https://hooks.slack.com/services/T0/B0/XXX'
  pagerduty_url: 'https://events.pagerduty.com/v2/enqueue'
  telegram_api_url: 'https://api.telegram.org'
  jira_api_url: 'https://example.atlassian.net/rest/api/2/'
  opsgenie_api_key: 'kept-but-unused'
  http_config:
    follow_redirects: false

templates:
  - 'templates/*.tmpl'
  - '/etc/alertmanager/extra.tmpl'

route:
  receiver: default
  group_by: ['alertname', 'cluster', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 3h
  routes:
    - matchers:
        - severity="critical"
        - 'team=~"db|storage"'
      receiver: pager
      group_wait: 10s
      continue: true
    - match_re:
        service: ^(foo1|foo2|baz)$
      receiver: team-x-mails
      routes:
        - match:
            severity: critical
          receiver: team-x-pager
          repeat_interval: 1h
    - matchers: ['{service="files", env!~"dev|test"}']
      receiver: team-y-mails
      group_by: ['...']
      mute_time_intervals: [offhours]
      active_time_intervals: [workdays]
    - receiver: blackhole
      matchers: [alertname="Watchdog"]
      group_by: []

inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster, service]
  - source_match:
      alertname: NodeDown
    target_match_re:
      alertname: '.+'
    equal: ['instance']

receivers:
  - name: default
    webhook_configs:
      - url: 'http://127.0.0.1:5001/hook'
        max_alerts: 10
      - url: 'http://127.0.0.1:5002/hook'
        send_resolved: false
        http_config:
          bearer_token: 'abc'
  - name: pager
    pagerduty_configs:
      - routing_key: 'R0UT1NG'
        severity: critical
    telegram_configs:
      - bot_token: '123:ABC'
        chat_id: -1001234
  - name: team-x-mails
    email_configs:
      - to: 'team-x@example.org'
        headers:
          subject: 'Alert!'
  - name: team-x-pager
    slack_configs:
      - channel: '#pager'
        send_resolved: true
        fields:
          - title: Severity
            value: '{{ .CommonLabels.severity }}'
        actions:
          - type: button
            text: Runbook
            url: '{{ .CommonAnnotations.runbook }}'
  - name: team-y-mails
    discord_configs:
      - webhook_url: 'https://discord.com/api/webhooks/1/abc'
        title: '{{ .CommonLabels.alertname }}'
    jira_configs:
      - project: OPS
        issue_type: Incident
        labels: [alertmanager]
        resolve_transition: Done
        reopen_transition: 'To Do'
        http_config:
          basic_auth:
            username: bot@example.org
            password_file: jira-token
  - name: blackhole

time_intervals:
  - name: workdays
    time_intervals:
      - weekdays: ['monday:friday']
        location: Europe/Berlin
mute_time_intervals:
  - name: offhours
    time_intervals:
      - times:
          - start_time: '00:00'
            end_time: '08:00'
          - start_time: '18:00'
            end_time: '24:00'
      - weekdays: [saturday, sunday]
      - days_of_month: ['-1', '1:3']
        months: ['december']
        years: ['2024:2030']
"#;

fn parse(text: &str) -> AlertmanagerConfig {
    AlertmanagerConfig::parse(text, "alertmanager.yml").unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    AlertmanagerConfig::parse(text, "am.yml").unwrap_err().to_string()
}

#[test]
fn a_full_alertmanager_yml_pastes_in() {
    let c = parse(FULL);
    assert_eq!(c.global().resolve_timeout(), Duration::from_secs(120));
    assert_eq!(c.templates().collect::<Vec<_>>(), ["templates/*.tmpl", "/etc/alertmanager/extra.tmpl"]);
    let names: Vec<&str> = c.receivers.iter().map(|r| r.value.name()).collect();
    assert_eq!(names, ["default", "pager", "team-x-mails", "team-x-pager", "team-y-mails", "blackhole"]);

    let default = c.receiver("default").unwrap();
    let hooks = &default.webhook_configs;
    assert!(hooks[0].value.send_resolved && !hooks[1].value.send_resolved);
    assert_eq!(hooks[0].value.max_alerts, 10);
    // Integrations without their own http_config take the global one; bearer_token becomes authorization.
    assert!(!hooks[0].value.http_config().follow_redirects);
    let auth = hooks[1].value.http_config().authorization.unwrap();
    assert_eq!((auth.kind.as_str(), auth.credentials.expose()), ("Bearer", "abc"));

    let pager = c.receiver("pager").unwrap();
    let pd = &pager.pagerduty_configs[0].value;
    assert_eq!(pd.url.as_ref().unwrap().as_str(), "https://events.pagerduty.com/v2/enqueue");
    assert_eq!(pd.client, r#"{{ template "pagerduty.default.client" . }}"#);
    assert_eq!(pd.source, pd.client);
    assert_eq!(pd.details["num_firing"], "{{ .Alerts.Firing | len }}");
    let tg = &pager.telegram_configs[0].value;
    assert_eq!((tg.chat_id, tg.parse_mode.as_str()), (-1_001_234, "HTML"));
    assert_eq!(tg.api_url.as_ref().unwrap().as_str(), "https://api.telegram.org");
    let kinds: Vec<_> = pager.integrations().iter().map(|i| (i.kind, i.index, i.send_resolved)).collect();
    assert_eq!(kinds, [(IntegrationKind::Pagerduty, 0, true), (IntegrationKind::Telegram, 0, true)]);

    let mail = &c.receiver("team-x-mails").unwrap().email_configs[0].value;
    assert_eq!(mail.smarthost, "smtp.example.org:587");
    assert_eq!(mail.from, "alertmanager@example.org");
    assert_eq!(mail.hello, "localhost");
    assert_eq!(mail.auth_password.expose(), "hunter2");
    assert_eq!(mail.require_tls, Some(true));
    assert!(!mail.send_resolved);
    assert_eq!(mail.subject(), "Alert!");
    assert_eq!(mail.html, r#"{{ template "email.default.html" . }}"#);

    let slack = &c.receiver("team-x-pager").unwrap().slack_configs[0].value;
    assert_eq!(slack.api_url.as_ref().unwrap().expose(), "https://hooks.slack.com/services/T0/B0/XXX");
    assert_eq!(format!("{:?}", slack.api_url), "Some(<secret>)");
    assert_eq!(slack.title, r#"{{ template "slack.default.title" . }}"#);
    assert_eq!(slack.actions[0].url, "{{ .CommonAnnotations.runbook }}");

    let y = c.receiver("team-y-mails").unwrap();
    let discord = &y.discord_configs[0].value;
    assert_eq!(discord.title, "{{ .CommonLabels.alertname }}");
    assert_eq!(discord.message, r#"{{ template "discord.default.message" . }}"#);
    let jira = &y.jira_configs[0].value;
    assert_eq!((jira.project.as_str(), jira.issue_type.as_str()), ("OPS", "Incident"));
    assert_eq!(jira.api_url.as_ref().unwrap().as_str(), "https://example.atlassian.net/rest/api/2/");
    assert_eq!(jira.http_config.as_ref().unwrap().value.basic_auth.as_ref().unwrap().password_file, "jira-token");
    assert!(c.receiver("blackhole").unwrap().integrations().is_empty());

    let intervals = c.named_time_intervals();
    assert_eq!(intervals.keys().collect::<Vec<_>>(), ["offhours", "workdays"]);
    assert_eq!(intervals["offhours"].len(), 3);
    assert_eq!(intervals["workdays"][0].location.as_ref().unwrap().name(), "Europe/Berlin");
    assert_eq!(c.inhibit_rules().count(), 2);
    let rule = c.inhibit_rules().nth(1).unwrap();
    assert_eq!(rule.parsed_target.to_string(), r#"{alertname=~"^(?:.+)$"}"#);

    let route = Route::new(c.route());
    let keys: Vec<&str> = route.nodes().iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "{}",
            r#"{}/{severity="critical",team=~"db|storage"}"#,
            r#"{}/{service=~"^(?:^(foo1|foo2|baz)$)$"}"#,
            r#"{}/{service=~"^(?:^(foo1|foo2|baz)$)$"}/{severity="critical"}"#,
            r#"{}/{env!~"dev|test",service="files"}"#,
            r#"{}/{alertname="Watchdog"}"#,
        ]
    );
    let opts: Vec<_> = route.nodes().iter().map(|n| &n.opts).collect();
    assert_eq!(opts[1].group_wait, Duration::from_secs(10));
    assert_eq!(opts[3].repeat_interval, Duration::from_secs(3600));
    assert_eq!(opts[2].repeat_interval, Duration::from_secs(3 * 3600));
    assert!(opts[4].group_by_all);
    assert_eq!(opts[4].mute_time_intervals, ["offhours"]);
    // `group_by: []` keeps the parent's grouping, as in Alertmanager.
    assert_eq!(opts[5].group_by, opts[0].group_by);
    assert_ne!(opts[0].repeat_interval, DEFAULT_REPEAT_INTERVAL);
}

#[test]
fn load_resolves_paths_next_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, FULL).unwrap();
    let c = AlertmanagerConfig::load(&path).unwrap();
    let want = dir.path().join("templates/*.tmpl").display().to_string();
    assert_eq!(c.templates().next(), Some(want.as_str()));
    let jira = &c.receiver("team-y-mails").unwrap().jira_configs[0].value;
    let file = &jira.http_config.as_ref().unwrap().value.basic_auth.as_ref().unwrap().password_file;
    assert_eq!(*file, dir.path().join("jira-token").display().to_string());
    let e = AlertmanagerConfig::load(&dir.path().join("missing.yml")).unwrap_err().to_string();
    assert!(e.contains("missing.yml: cannot open"), "{e}");
}

#[test]
fn minimal_files_and_nulls() {
    let c = parse("route:\n  receiver: r\nreceivers:\n  - name: r\n");
    assert_eq!(c.global().resolve_timeout(), Duration::from_secs(300));
    // `key:` with nothing after it is an empty value, as for Go's YAML decoder.
    parse("global:\nroute:\n  receiver: r\n  routes:\nreceivers:\n  - name: r\ninhibit_rules:\n");
    assert_eq!(err(""), "am.yml: no route provided in config");
    assert_eq!(err("# only a comment\n"), "am.yml: no route provided in config");
    assert_eq!(err("receivers:\n  - name: r\n"), "am.yml: no routes provided");
}

/// vigil's own `slack_configs.blocks`: any YAML tree, kept as written for the notifier to execute.
#[test]
fn slack_blocks_are_kept_as_a_json_tree() {
    let c = parse(concat!(
        "route:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: http://x/\n",
        "        blocks:\n",
        "          - type: header\n",
        "            text: {type: plain_text, text: '{{ .CommonLabels.alertname }}'}\n",
        "          - type: section\n",
        "            fields: [{type: mrkdwn, text: x}]\n",
        "            accessory: {type: image, size: 2, ratio: 1.5, ok: true, none: null}\n",
    ));
    let slack = &c.receiver("r").unwrap().slack_configs[0].value;
    let blocks: Vec<_> = slack.blocks.as_ref().unwrap().value.iter().map(|b| b.value.clone()).collect();
    assert_eq!(
        serde_json::Value::Array(blocks),
        serde_json::json!([
            { "type": "header", "text": { "type": "plain_text", "text": "{{ .CommonLabels.alertname }}" } },
            {
                "type": "section",
                "fields": [{ "type": "mrkdwn", "text": "x" }],
                "accessory": { "type": "image", "size": 2, "ratio": 1.5, "ok": true, "none": null },
            },
        ])
    );
    let c = parse("route:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: http://x/\n");
    assert!(c.receiver("r").unwrap().slack_configs[0].value.blocks.is_none());
}

/// One error per case, with the exact position and Alertmanager's message.
#[test]
fn errors_point_at_their_cause() {
    let r = "receivers:\n  - name: r\n";
    let slack = "route:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: http://x/\n";
    let mut failures = Vec::new();
    for (text, want) in [
        // Structure.
        (format!("route:\n  receiver: r\n  recevier: x\n{r}"), "am.yml:3:3: unknown field `recevier`"),
        (format!("route:\n  receiver: r\n  receiver: x\n{r}"), "am.yml:3:3: duplicate mapping key: receiver"),
        (format!("route: [1\n{r}"), "am.yml:"),
        // Receivers.
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n  - name: r\n".into(), "am.yml:5:11: notification config name \"r\" is not unique"),
        ("route:\n  receiver: r\nreceivers:\n  - webhook_configs: []\n".into(), "am.yml:4:5: missing name in receiver"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - send_resolved: true\n".into(), "am.yml:6:9: missing URL in webhook config"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: 'ftp://x'\n".into(), "am.yml:6:14: unsupported scheme \"ftp\" for URL"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    email_configs:\n      - to: a@b\n".into(), "am.yml:6:9: no global SMTP smarthost set"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    slack_configs:\n      - channel: x\n".into(), "am.yml:6:9: no global Slack API URL set either inline or in a file"),
        (format!("{slack}        blocks:\n{}", "          - {type: divider}\n".repeat(51)), "am.yml:8:11: 51 Slack blocks, at most 50 allowed"),
        (format!("{slack}        blocks:\n          - {{type: divider}}\n          - {{text: x}}\n"), "am.yml:9:13: Slack block must be a map with a string type"),
        (format!("{slack}        blocks:\n          - type: [x]\n"), "am.yml:8:13: Slack block must be a map with a string type"),
        (format!("{slack}        blocks:\n          - divider\n"), "am.yml:8:13: Slack block must be a map with a string type"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    pagerduty_configs:\n      - severity: x\n".into(), "am.yml:6:9: missing service or routing key in PagerDuty config"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    telegram_configs:\n      - bot_token: x\n".into(), "am.yml:6:9: missing chat_id on telegram_config"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    discord_configs:\n      - title: x\n".into(), "am.yml:6:9: one of webhook_url or webhook_url_file must be configured"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    jira_configs:\n      - project: X\n        issue_type: Bug\n".into(), "am.yml:6:9: no global Jira Cloud URL set"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    opsgenie_configs:\n      - api_key: x\n".into(), "am.yml:6:7: opsgenie_configs is not supported yet"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://x/\n        http_config:\n          basic_auth: {username: u}\n          bearer_token: t\n".into(), "am.yml:8:11: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"),
        ("route:\n  receiver: r\nreceivers:\n  - name: r\n    webhook_configs:\n      - url: http://x/\n        http_config:\n          oauth2: {client_id: x}\n".into(), "am.yml:8:19: http_config: oauth2 is not supported yet"),
        ("global:\n  smtp_smarthost: nohost\nroute:\n  receiver: r\nreceivers:\n  - name: r\n".into(), "am.yml:2:3: address nohost: missing port in address"),
        ("global:\n  slack_api_url: http://x/\n  slack_api_url_file: /f\nroute:\n  receiver: r\nreceivers:\n  - name: r\n".into(), "am.yml:2:3: at most one of slack_api_url & slack_api_url_file must be configured"),
        // The routing tree.
        (format!("route:\n  group_wait: 1s\n{r}"), "am.yml:2:3: root route must specify a default receiver"),
        (format!("route:\n  receiver: r\n  continue: true\n{r}"), "am.yml:3:13: cannot have continue in root route"),
        (format!("route:\n  receiver: r\n  matchers: [a=b]\n{r}"), "am.yml:2:3: root route must not have any matchers"),
        (format!("route:\n  receiver: r\n  routes:\n    - receiver: nope\n{r}"), "am.yml:4:17: undefined receiver \"nope\" used in route"),
        (format!("route:\n  receiver: r\n  group_interval: 0s\n{r}"), "am.yml:3:19: group_interval cannot be zero"),
        (format!("route:\n  receiver: r\n  repeat_interval: 0s\n{r}"), "am.yml:3:20: repeat_interval cannot be zero"),
        (format!("route:\n  receiver: r\n  group_wait: 5x\n{r}"), "am.yml:3:15: invalid duration \"5x\""),
        (format!("route:\n  receiver: r\n  group_by: ['...', a]\n{r}"), "am.yml:3:14: cannot have wildcard group_by (`...`) and other other labels at the same time"),
        (format!("route:\n  receiver: r\n  group_by: [a, a]\n{r}"), "am.yml:3:17: duplicated label \"a\" in group_by"),
        (format!("route:\n  receiver: r\n  group_by: [a, 'b-c']\n{r}"), "am.yml:3:17: invalid label name \"b-c\" in group_by list"),
        (format!("route:\n  receiver: r\n  routes:\n    - matchers:\n        - a=b\n        - 'c=~('\n{r}"), "am.yml:6:11: invalid regex \"(\" for label \"c\""),
        (format!("route:\n  receiver: r\n  routes:\n    - matchers: [a]\n{r}"), "am.yml:4:18: bad matcher format: a"),
        (format!("route:\n  receiver: r\n  routes:\n    - match:\n        a-b: x\n{r}"), "am.yml:5:9: invalid label name \"a-b\""),
        (format!("route:\n  receiver: r\n  routes:\n    - match_re:\n        a: '('\n{r}"), "am.yml:5:12: error parsing regexp \"(\""),
        (format!("route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [x]\n{r}"), "am.yml:4:29: undefined time interval \"x\" used in route"),
        (format!("route:\n  receiver: r\n  mute_time_intervals: [x]\n{r}time_intervals:\n  - name: x\n"), "am.yml:3:25: root route must not have any mute time intervals"),
        // Time intervals.
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n  - name: x\n"), "am.yml:7:11: time interval \"x\" is not unique"),
        (format!("route:\n  receiver: r\n{r}mute_time_intervals:\n  - name: x\ntime_intervals:\n  - name: x\n"), "am.yml:8:11: time interval \"x\" is not unique"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - time_intervals: []\n"), "am.yml:6:5: missing name in time interval"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n    time_intervals:\n      - weekdays: [monday, funday]\n"), "am.yml:8:28: funday is not a valid weekday"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n    time_intervals:\n      - location: Mars/Base\n"), "am.yml:8:19: unknown time zone Mars/Base"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n    time_intervals:\n      - times:\n          - start_time: '10:00'\n            end_time: '09:00'\n"), "am.yml:9:13: start time cannot be equal or greater than end time"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n    time_intervals:\n      - days_of_month: ['-1:5']\n"), "am.yml:8:25: end day must be negative if start day is negative"),
        (format!("route:\n  receiver: r\n{r}time_intervals:\n  - name: x\n    time_intervals:\n      - time_zone: UTC\n"), "am.yml:8:9: unknown field `time_zone`"),
        // Inhibition rules.
        (format!("route:\n  receiver: r\n{r}inhibit_rules:\n  - equal: ['a-b']\n"), "am.yml:6:13: \"a-b\" is not a valid label name"),
        (format!("route:\n  receiver: r\n{r}inhibit_rules:\n  - target_matchers: ['x=\"']\n"), "am.yml:6:23: matcher value contains unescaped double quote"),
    ] {
        let e = err(&text);
        if !e.starts_with(want) {
            failures.push(format!("for\n{text}\nwant {want:?}\n got {e:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
