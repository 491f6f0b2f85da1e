//! The embedded web UI and the dashboards API: `/` and `/ui/...` served with their content types, cache headers
//! and gzip, JSON 404s for unknown API paths, and dashboards listed and served with broken files as errors.

use crate::support::{request, TestServer};

#[test]
fn the_page_is_served_at_the_root_and_never_cached() {
    let s = TestServer::start();
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    if vigil_server::ui::is_built() {
        assert!(page.body.contains("<div id=\"app\">"), "{}", page.body);
    } else {
        assert!(page.body.contains("The vigil UI was not built"), "{}", page.body);
        assert!(page.body.contains("npm run build"), "{}", page.body);
    }
}

#[test]
fn assets_are_immutable_and_gzipped_when_asked() {
    if !vigil_server::ui::is_built() {
        return; // Built without Node: the previous test checks the page that says so.
    }
    let s = TestServer::start();
    let page = s.get("/");
    let start = page.body.find("src=\"/ui/").expect("the page loads its script from /ui/") + 5;
    let path = &page.body[start..start + page.body[start..].find('"').unwrap()];
    let plain = s.get(path);
    assert_eq!(plain.status, 200, "{path}");
    assert_eq!(plain.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(plain.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(plain.header("content-encoding"), None);
    let gz = request(s.addr, "GET", path, &[("Accept-Encoding", "gzip, br")], &[]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let (plain_len, gz_len): (usize, usize) = (
        plain.header("content-length").unwrap().parse().unwrap(),
        gz.header("content-length").unwrap().parse().unwrap(),
    );
    assert!(gz_len < plain_len / 2, "{gz_len} of {plain_len}");
    assert_eq!(s.get("/ui/no-such-file.js").status, 404);
}

#[test]
fn unknown_api_paths_stay_json_errors() {
    let s = TestServer::start();
    let r = s.get("/api/v1/no-such-endpoint");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["errorType"], "not_found");
    assert_eq!(r.json()["error"], "unknown api path /api/v1/no-such-endpoint");
    assert_eq!(s.get("/graph").status, 404);
    assert_eq!(request(s.addr, "POST", "/", &[], b"x").status, 404);
    // The API itself is untouched.
    assert_eq!(s.get("/api/v1/query?query=1").json()["status"], "success");
}

#[test]
fn dashboards_are_listed_and_served_with_broken_files_as_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = "title: Web\nvariables:\n  - {name: host, query: 'label_values(up, instance)'}\nrows:\n  - title: r\n    panels:\n      - {title: Up, type: stat, query: 'up{instance=\"$host\"}', unit: short}\n";
    std::fs::write(dir.path().join("web.yml"), good).unwrap();
    std::fs::write(
        dir.path().join("broken.yml"),
        "title: Broken\nrows:\n  - title: r\n    panels:\n      - {title: p, type: stat, query: 'sum('}\n",
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let s = TestServer::start_with(move |o| o.dashboards_dir = Some(path));
    let list = s.get("/api/v1/dashboards").json();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["broken", "host", "web"]);
    let broken = &list["data"][0];
    let error = broken["error"].as_str().unwrap();
    assert!(error.contains("broken.yml:5:"), "{error}");
    assert_eq!(list["data"][2]["title"], "Web");

    let host = s.get("/api/v1/dashboards/host").json();
    assert_eq!(host["data"]["title"], "Host");
    assert_eq!(host["data"]["variables"][0]["name"], "host");
    let panels: Vec<&str> = host["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["panels"].as_array().unwrap())
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for want in [
        "CPU by mode",
        "Memory breakdown",
        "Disk space used per mount",
        "Network traffic",
        "Recent logs",
        "Security events",
    ] {
        assert!(panels.contains(&want), "{want} in {panels:?}");
    }
    let web = s.get("/api/v1/dashboards/web").json();
    assert_eq!(web["data"]["rows"][0]["panels"][0]["queries"][0]["query"], "up{instance=\"$host\"}");
    assert_eq!(web["data"]["variables"][0]["match"], "up");

    let r = s.get("/api/v1/dashboards/broken");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (400, Some("bad_data")));
    let r = s.get("/api/v1/dashboards/nope");
    assert_eq!((r.status, r.json()["errorType"].as_str()), (404, Some("not_found")));
    assert_eq!(s.get("/api/v1/dashboards/..%2Fetc").status, 404);
}
