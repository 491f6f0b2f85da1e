//! Synthetic log lines: nginx access, sshd auth and JSON application logs with realistic value distributions,
//! plus the planted needle and marker the log benchmark searches for. Pure functions of their random source.

use std::fmt::Write as _;

use crate::nodegen::Rng;

/// The word planted in exactly one line of every hundred (`grep -F` finds 1 % of the lines). No generator
/// writes it otherwise.
pub const MARKER: &str = "deadline_exceeded";
/// How many lines share one planted marker.
pub const MARKER_EVERY: u64 = 100;

/// The jobs every host has, one stream each, and their share of the lines (per mille).
pub const JOBS: [(Job, u64); 3] = [(Job::Nginx, 600), (Job::App, 250), (Job::Sshd, 150)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Nginx,
    Sshd,
    App,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::Nginx => "nginx",
            Job::Sshd => "sshd",
            Job::App => "app",
        }
    }

    /// A job drawn with the shares of [`JOBS`].
    pub fn pick(rng: &mut Rng) -> Job {
        let mut x = rng.next_u64() % 1000;
        for (job, share) in JOBS {
            if x < share {
                return job;
            }
            x -= share;
        }
        Job::Nginx
    }
}

/// `needle_` and 16 hex digits derived from the seed: the token of the one needle line.
pub fn needle(seed: u64) -> String {
    format!("needle_{:016x}", Rng::new(seed ^ 0x6e65_6564_6c65).next_u64())
}

/// What to plant into a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plant<'a> {
    pub marker: bool,
    pub needle: Option<&'a str>,
}

/// Appends one line of `job` (without a newline) for `host` at `ts_ns` to `out`.
pub fn line(out: &mut String, rng: &mut Rng, job: Job, host: &str, ts_ns: i64, plant: Plant<'_>) {
    match job {
        Job::Nginx => nginx(out, rng, ts_ns, plant),
        Job::Sshd => sshd(out, rng, host, ts_ns, plant),
        Job::App => app(out, rng, ts_ns, plant),
    }
}

/// Draws from `(value, weight)` pairs.
fn weighted<T: Copy>(rng: &mut Rng, items: &[(T, u32)]) -> T {
    let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
    let mut x = rng.next_u64() % total.max(1);
    for (v, w) in items {
        if x < u64::from(*w) {
            return *v;
        }
        x -= u64::from(*w);
    }
    items[0].0
}

/// An index below `n`, skewed towards small ones (a few clients make most requests, as in real traffic).
fn skewed(rng: &mut Rng, n: u64) -> u64 {
    let u = rng.unit();
    ((u * u * u * n as f64) as u64).min(n.saturating_sub(1))
}

/// A client address out of a pool of about 5000, public-looking, most requests from few of them.
fn client_ip(out: &mut String, rng: &mut Rng) {
    let k = Rng::new(skewed(rng, 5000)).next_u64();
    let _ = write!(out, "{}.{}.{}.{}", 1 + k % 223, (k >> 8) % 256, (k >> 16) % 256, 1 + (k >> 24) % 254);
}

fn hex(out: &mut String, rng: &mut Rng, digits: usize) {
    let mut left = digits;
    while left > 0 {
        let n = left.min(16);
        let v = rng.next_u64() & (u64::MAX >> (64 - 4 * n));
        let _ = write!(out, "{v:0n$x}");
        left -= n;
    }
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// UTC calendar fields of a Unix time in seconds: (year, month 1-12, day, hour, minute, second).
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (rem / 3600) as u32, (rem / 60 % 60) as u32, (rem % 60) as u32)
}

const PATHS: [(&str, u32); 14] = [
    ("/", 60),
    ("/index.html", 20),
    ("/api/v1/users/", 90),
    ("/api/v1/orders/", 80),
    ("/api/v1/products?page=", 70),
    ("/api/v1/cart", 40),
    ("/api/v1/search?q=", 50),
    ("/static/js/app.", 120),
    ("/static/css/main.", 80),
    ("/images/products/", 150),
    ("/login", 30),
    ("/favicon.ico", 40),
    ("/healthz", 100),
    ("/metrics", 30),
];
const SEARCH_WORDS: [&str; 8] = ["shoes", "laptop", "coffee", "desk", "lamp", "phone", "jacket", "bike"];
const STATUS: [(u16, u32); 11] = [
    (200, 7800),
    (304, 600),
    (301, 200),
    (302, 150),
    (404, 700),
    (403, 100),
    (401, 150),
    (499, 60),
    (500, 120),
    (502, 80),
    (503, 40),
];
const METHODS: [(&str, u32); 5] = [("GET", 850), ("POST", 110), ("PUT", 20), ("DELETE", 10), ("HEAD", 10)];
const AGENTS: [(&str, u32); 7] = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", 35),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15", 15),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 10),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", 20),
    ("curl/8.4.0", 5),
    ("Prometheus/2.42.0", 5),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", 10),
];
const REFERERS: [(&str, u32); 4] =
    [("-", 60), ("https://shop.example.com/", 25), ("https://www.google.com/", 10), ("https://t.co/", 5)];

/// nginx's `combined` format plus `$request_time` and `$request_id`, as many sites configure it.
fn nginx(out: &mut String, rng: &mut Rng, ts_ns: i64, plant: Plant<'_>) {
    let (y, mo, d, h, mi, s) = civil(ts_ns.div_euclid(1_000_000_000));
    client_ip(out, rng);
    let _ = write!(out, " - - [{d:02}/{}/{y}:{h:02}:{mi:02}:{s:02} +0000] \"", MONTHS[(mo - 1) as usize]);
    let path = weighted(rng, &PATHS);
    let method = if path.starts_with("/api/") { weighted(rng, &METHODS) } else { "GET" };
    let _ = write!(out, "{method} {path}");
    match path {
        "/api/v1/users/" | "/api/v1/orders/" => {
            let _ = write!(out, "{}", 1000 + rng.next_u64() % 900_000);
        }
        "/api/v1/products?page=" => {
            let _ = write!(out, "{}", 1 + skewed(rng, 40));
        }
        "/api/v1/search?q=" => {
            let word: &&str = rng.pick(&SEARCH_WORDS);
            out.push_str(word);
        }
        "/static/js/app." | "/static/css/main." => {
            hex(out, rng, 8);
            out.push_str(if path.contains("/js/") { ".js" } else { ".css" });
        }
        "/images/products/" => {
            let _ = write!(out, "{}.webp", skewed(rng, 3000));
        }
        _ => {}
    }
    let status = if plant.marker { 504 } else { weighted(rng, &STATUS) };
    let bytes = match status {
        304 | 301 | 302 => 0,
        200 => 200 + rng.next_u64() % 60_000,
        _ => 150 + rng.next_u64() % 400,
    };
    let _ = write!(out, " HTTP/1.1\" {status} {bytes} \"{}\" \"{}\"", weighted(rng, &REFERERS), weighted(rng, &AGENTS));
    let time_ms = if plant.marker { 30_000 } else { skewed(rng, 3000) + rng.next_u64() % 5 };
    let _ = write!(out, " rt={}.{:03} req_id=", time_ms / 1000, time_ms % 1000);
    match plant.needle {
        Some(n) => out.push_str(n),
        None => hex(out, rng, 32),
    }
    if plant.marker {
        let _ = write!(out, " upstream_err={MARKER}");
    }
}

const USERS: [(&str, u32); 12] = [
    ("root", 300),
    ("admin", 120),
    ("ubuntu", 60),
    ("test", 60),
    ("user", 50),
    ("oracle", 30),
    ("postgres", 30),
    ("git", 25),
    ("deploy", 40),
    ("ftpuser", 20),
    ("pi", 20),
    ("alice", 15),
];

/// OpenSSH's auth log lines as rsyslog writes them (`Nov 21 20:37:55 web-01 sshd[1234]: ...`), mostly brute
/// force noise from many addresses.
fn sshd(out: &mut String, rng: &mut Rng, host: &str, ts_ns: i64, plant: Plant<'_>) {
    let (_, mo, d, h, mi, s) = civil(ts_ns.div_euclid(1_000_000_000));
    let pid = 1000 + rng.next_u64() % 4_000_000;
    let _ = write!(out, "{} {d:2} {h:02}:{mi:02}:{s:02} {host} sshd[{pid}]: ", MONTHS[(mo - 1) as usize]);
    let user = match plant.needle {
        Some(n) => n,
        None => weighted(rng, &USERS),
    };
    let port = 1024 + rng.next_u64() % 64_000;
    if plant.marker {
        out.push_str("error: kex_exchange_identification: read: ");
        out.push_str(MARKER);
        out.push_str(" from ");
        client_ip(out, rng);
        let _ = write!(out, " port {port}");
        return;
    }
    match weighted(rng, &[(0, 40), (1, 25), (2, 15), (3, 10), (4, 5), (5, 5)]) {
        0 => {
            let _ = write!(out, "Failed password for {user} from ");
            client_ip(out, rng);
            let _ = write!(out, " port {port} ssh2");
        }
        1 => {
            let _ = write!(out, "Invalid user {user} from ");
            client_ip(out, rng);
            let _ = write!(out, " port {port}");
        }
        2 => {
            let _ = write!(out, "Connection closed by authenticating user {user} ");
            client_ip(out, rng);
            let _ = write!(out, " port {port} [preauth]");
        }
        3 => {
            out.push_str("Received disconnect from ");
            client_ip(out, rng);
            let _ = write!(out, " port {port}:11: Bye Bye [preauth]");
        }
        4 => {
            let _ = write!(
                out,
                "Accepted publickey for {user} from 10.0.{}.{} port {port} ssh2: ED25519 SHA256:",
                rng.next_u64() % 4,
                2 + rng.next_u64() % 250
            );
            hex(out, rng, 43);
        }
        _ => {
            let _ = write!(
                out,
                "pam_unix(sshd:session): session opened for user {user}(uid={}) by (uid=0)",
                1000 + rng.next_u64() % 20
            );
        }
    }
}

const LEVELS: [(&str, u32); 4] = [("info", 700), ("debug", 150), ("warn", 100), ("error", 50)];
const MSGS: [(&str, u32); 6] = [
    ("request handled", 60),
    ("cache miss", 10),
    ("order created", 8),
    ("payment authorized", 6),
    ("user logged in", 8),
    ("slow query", 8),
];
const APP_PATHS: [&str; 6] =
    ["/api/v1/orders", "/api/v1/cart", "/api/v1/payments", "/api/v1/users", "/api/v1/search", "/api/v1/products"];
const APP_STATUS: [(u16, u32); 5] = [(200, 850), (201, 60), (400, 40), (404, 35), (409, 15)];
const ERRORS: [&str; 3] = [
    "upstream connect error or disconnect/reset before headers",
    "pq: could not serialize access due to concurrent update",
    "context canceled",
];

/// One JSON object per line, as Go and Java services log with zap or logback; errors carry a stack.
fn app(out: &mut String, rng: &mut Rng, ts_ns: i64, plant: Plant<'_>) {
    let (y, mo, d, h, mi, s) = civil(ts_ns.div_euclid(1_000_000_000));
    let ms = ts_ns.rem_euclid(1_000_000_000) / 1_000_000;
    let level = if plant.marker { "error" } else { weighted(rng, &LEVELS) };
    let msg = if level == "error" { "request failed" } else { weighted(rng, &MSGS) };
    let _ = write!(
        out,
        "{{\"ts\":\"{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z\",\"level\":\"{level}\",\"logger\":\"checkout.http\",\
         \"msg\":\"{msg}\",\"method\":\"{}\",\"path\":\"{}\",\"status\":{},\"duration_ms\":{},\"request_id\":\"",
        weighted(rng, &METHODS),
        rng.pick(&APP_PATHS),
        if level == "error" { 500 } else { weighted(rng, &APP_STATUS) },
        skewed(rng, 2500),
    );
    match plant.needle {
        Some(n) => out.push_str(n),
        None => hex(out, rng, 32),
    }
    let _ = write!(out, "\",\"user_id\":{},\"client_ip\":\"", rng.next_u64() % 200_000);
    client_ip(out, rng);
    out.push('"');
    if level == "error" {
        let err = if plant.marker { MARKER } else { *rng.pick(&ERRORS) };
        let _ = write!(out, ",\"error\":\"{err}\",\"stacktrace\":\"");
        for i in 0..6 {
            let _ =
                write!(out, "at com.shop.checkout.Service{i}.handle(Service{i}.java:{})\\n", 20 + rng.next_u64() % 400);
        }
        out.push('"');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_700_000_000), (2023, 11, 14, 22, 13, 20));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(-1), (1969, 12, 31, 23, 59, 59));
    }

    fn lines(job: Job, plant: Plant<'_>, n: usize) -> Vec<String> {
        let mut rng = Rng::new(7);
        (0..n)
            .map(|i| {
                let mut s = String::new();
                line(&mut s, &mut rng, job, "web-01", 1_700_000_000_000_000_000 + i as i64 * 1_000_000, plant);
                s
            })
            .collect()
    }

    #[test]
    fn lines_look_like_their_sources() {
        let n = &lines(Job::Nginx, Plant::default(), 1)[0];
        assert!(n.contains(" - - [14/Nov/2023:22:13:20 +0000] \""), "{n}");
        assert!(n.contains(" HTTP/1.1\" ") && n.contains(" req_id="), "{n}");
        let s = &lines(Job::Sshd, Plant::default(), 1)[0];
        assert!(s.starts_with("Nov 14 22:13:20 web-01 sshd["), "{s}");
        for a in lines(Job::App, Plant::default(), 200) {
            assert!(a.starts_with("{\"ts\":\"2023-11-14T22:13:") && a.ends_with('}'), "{a}");
            assert!(!a.contains('\n'));
        }
    }

    #[test]
    fn markers_and_needles_appear_only_where_planted() {
        for job in [Job::Nginx, Job::Sshd, Job::App] {
            assert!(lines(job, Plant::default(), 5000).iter().all(|l| !l.contains(MARKER) && !l.contains("needle_")));
            let marked = lines(job, Plant { marker: true, needle: None }, 20);
            assert!(marked.iter().all(|l| l.matches(MARKER).count() == 1), "{job:?}");
            let needle = needle(3);
            let found = lines(job, Plant { marker: false, needle: Some(&needle) }, 1);
            assert_eq!(found[0].matches(needle.as_str()).count(), 1, "{job:?}");
        }
        assert_ne!(needle(1), needle(2));
        assert_eq!(needle(1).len(), "needle_".len() + 16);
    }

    #[test]
    fn statuses_are_mostly_success() {
        let all = lines(Job::Nginx, Plant::default(), 10_000);
        let ok = all.iter().filter(|l| l.contains("\" 200 ")).count();
        let server_errors = all.iter().filter(|l| l.contains("\" 50")).count();
        assert!((7000..8600).contains(&ok), "{ok}");
        assert!((100..500).contains(&server_errors), "{server_errors}");
    }
}
