//! Threat-intel feeds in the agent (`docs/guard-intel.md`): the fetcher thread downloads each URL feed (or
//! reads each file feed) at start and on its schedule, parses it with `vigil_guard::intel`, keeps the last good
//! download on disk (`<data_dir>/intel/<name>.feed`, written atomically) and swaps a new [`IntelMatcher`] in
//! whole. A failed fetch or parse keeps the previous data. The guard thread takes the current matcher once per
//! cycle; no network I/O ever happens on it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use hyper::Method;
use vigil_guard::cidr::Cidr;
use vigil_guard::intel::{parse_with, Feed, FeedFormat, FeedLimits, IntelMatcher};

use super::clock::Clock;
use super::intel_metrics::{FetchResult, IntelMetrics};
use super::metrics::GuardMetrics;
use super::worker::Worker;
use crate::http::{HttpClient, Req, Target};

/// The most entries over all feeds.
const MAX_ENTRIES: usize = 4_000_000;

/// `agent.guard.intel:`, resolved.
#[derive(Clone, Debug)]
pub struct IntelSettings {
    pub feeds: Vec<FeedSettings>,
    /// Ban the source address of a matching event (as jail `intel`).
    pub ban: bool,
    pub bantime_s: i64,
    /// Addresses never matched: the guard's global `ignoreip` and loopback.
    pub ignoreip: Vec<Cidr>,
    /// Deadline of one download.
    pub timeout: Duration,
    /// The wait before trying a failed feed again (at most its refresh).
    pub retry: Duration,
}

#[derive(Clone, Debug)]
pub struct FeedSettings {
    pub name: String,
    pub source: FeedSource,
    pub format: FeedFormat,
    pub refresh: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedSource {
    Url(String),
    Path(PathBuf),
}

impl IntelSettings {
    pub fn from_config(cfg: &vigil_config::IntelSection, ignoreip: Vec<Cidr>) -> IntelSettings {
        let feeds = cfg
            .feeds
            .iter()
            .map(|f| {
                let f = &f.value;
                let source = match (&f.url, &f.path) {
                    (Some(u), _) => FeedSource::Url(u.value.clone()),
                    (None, p) => FeedSource::Path(p.as_ref().map(|p| p.value.clone()).unwrap_or_default().into()),
                };
                FeedSettings { name: f.name.value.clone(), source, format: f.format(), refresh: f.refresh() }
            })
            .collect();
        IntelSettings {
            feeds,
            ban: cfg.ban(),
            bantime_s: cfg.bantime().as_secs().max(1) as i64,
            ignoreip,
            timeout: Duration::from_secs(60),
            retry: Duration::from_secs(300),
        }
    }
}

/// The matcher in use, shared between the fetcher (which replaces it) and the guard thread (which reads it).
#[derive(Clone, Default)]
pub(crate) struct CurrentMatcher(Arc<Mutex<Arc<IntelMatcher>>>);

impl CurrentMatcher {
    pub fn get(&self) -> Arc<IntelMatcher> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, m: IntelMatcher) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(m);
    }
}

/// The running fetcher.
pub(crate) struct IntelFetcher {
    pub current: CurrentMatcher,
    stop: Option<Sender<()>>,
    worker: Worker,
}

impl IntelFetcher {
    /// Loads the disk copies and file feeds (blocking), then starts the thread that fetches on schedule.
    pub fn start(
        s: IntelSettings,
        dir: &Path,
        metrics: Arc<GuardMetrics>,
        clock: Clock,
    ) -> Result<IntelFetcher, std::io::Error> {
        let names: Vec<String> = s.feeds.iter().map(|f| f.name.clone()).collect();
        let _ = metrics.intel.set(IntelMetrics::new(&names));
        let dir = dir.join("intel");
        std::fs::create_dir_all(&dir)?;
        let client = HttpClient::new(Default::default()).map_err(std::io::Error::other)?;
        let now = Instant::now();
        let mut state = Fetcher {
            feeds: s
                .feeds
                .iter()
                .map(|f| FeedState {
                    target: match &f.source {
                        FeedSource::Url(u) => Target::parse(u).ok(),
                        FeedSource::Path(_) => None,
                    },
                    feed: None,
                    etag: None,
                    last_modified: None,
                    due: now,
                })
                .collect(),
            settings: s,
            dir,
            client,
            current: CurrentMatcher::default(),
            metrics,
            clock,
        };
        state.load_disk_copies();
        let current = state.current.clone();
        let (stop_tx, stop_rx) = mpsc_channel();
        let worker = Worker::spawn("guard-intel", move || state.run(stop_rx))?;
        Ok(IntelFetcher { current, stop: Some(stop_tx), worker })
    }

    pub fn stop(&mut self) {
        self.stop.take();
        self.worker.join();
    }
}

impl Drop for IntelFetcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn mpsc_channel() -> (Sender<()>, Receiver<()>) {
    std::sync::mpsc::channel()
}

struct FeedState {
    /// URL feeds only.
    target: Option<Target>,
    /// The last good parse.
    feed: Option<Feed>,
    etag: Option<String>,
    last_modified: Option<String>,
    due: Instant,
}

struct Fetcher {
    settings: IntelSettings,
    feeds: Vec<FeedState>,
    dir: PathBuf,
    client: HttpClient,
    current: CurrentMatcher,
    metrics: Arc<GuardMetrics>,
    clock: Clock,
}

/// What a fetch got.
enum Fetched {
    /// The feed, with the validators of the answer (URL feeds), kept once it parsed.
    Bytes {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
}

impl Fetcher {
    fn metrics(&self) -> &IntelMetrics {
        self.metrics.intel.get_or_init(|| IntelMetrics::new(&[]))
    }

    fn cache_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.feed", self.settings.feeds[i].name))
    }

    /// At start: the last good download of each URL feed, and each file feed, so matching starts at once.
    fn load_disk_copies(&mut self) {
        for i in 0..self.feeds.len() {
            let path = match &self.settings.feeds[i].source {
                FeedSource::Url(_) => self.cache_path(i),
                FeedSource::Path(p) => p.clone(),
            };
            let is_file_feed = matches!(self.settings.feeds[i].source, FeedSource::Path(_));
            match read_capped(&path, FeedLimits::default().max_bytes) {
                Ok(bytes) => {
                    if self.take(i, &bytes).is_ok() && is_file_feed {
                        self.feeds[i].due = Instant::now() + self.settings.feeds[i].refresh;
                        self.metrics().fetched(i, FetchResult::Ok, (self.clock)());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !is_file_feed => {}
                Err(err) => {
                    tracing::warn!(feed = self.settings.feeds[i].name, path = %path.display(), %err, "cannot read threat-intel feed")
                }
            }
        }
        self.rebuild();
    }

    fn run(mut self, stop: Receiver<()>) {
        loop {
            let now = Instant::now();
            let mut changed = false;
            for i in 0..self.feeds.len() {
                if self.feeds[i].due <= now {
                    changed |= self.refresh(i);
                }
            }
            if changed {
                self.rebuild();
            }
            let next = self.feeds.iter().map(|f| f.due).min().unwrap_or(now + Duration::from_secs(3600));
            match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
        }
    }

    /// Fetches feed `i`; true when its data changed.
    fn refresh(&mut self, i: usize) -> bool {
        let f = &self.settings.feeds[i];
        let (name, refresh) = (f.name.clone(), f.refresh);
        let now_s = (self.clock)();
        let result = match f.source.clone() {
            FeedSource::Path(p) => read_capped(&p, FeedLimits::default().max_bytes)
                .map(|bytes| Fetched::Bytes { bytes, etag: None, last_modified: None })
                .map_err(|e| format!("{}: {e}", p.display())),
            FeedSource::Url(url) => self.download(i, &url),
        };
        let outcome = match result {
            Ok(Fetched::NotModified) => Ok(false),
            Ok(Fetched::Bytes { bytes, etag, last_modified }) => match self.take(i, &bytes) {
                Ok(()) => {
                    (self.feeds[i].etag, self.feeds[i].last_modified) = (etag, last_modified);
                    if matches!(self.settings.feeds[i].source, FeedSource::Url(_)) {
                        if let Err(err) = write_atomically(&self.cache_path(i), &bytes) {
                            tracing::warn!(feed = name, %err, "cannot keep a copy of threat-intel feed on disk");
                        }
                    }
                    Ok(true)
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(changed) => {
                let r = if changed { FetchResult::Ok } else { FetchResult::Unchanged };
                self.metrics().fetched(i, r, now_s);
                self.feeds[i].due = Instant::now() + refresh;
                changed
            }
            Err(err) => {
                self.metrics().fetched(i, FetchResult::Error, now_s);
                tracing::warn!(feed = name, err, "threat-intel feed fetch failed; keeping the previous data");
                self.feeds[i].due = Instant::now() + self.settings.retry.min(refresh);
                false
            }
        }
    }

    fn download(&self, i: usize, url: &str) -> Result<Fetched, String> {
        let state = &self.feeds[i];
        let Some(target) = &state.target else { return Err(format!("{url:?} is not a valid URL")) };
        let mut headers = Vec::new();
        if let Some(e) = &state.etag {
            headers.push((IF_NONE_MATCH, e.clone()));
        }
        if let Some(m) = &state.last_modified {
            headers.push((IF_MODIFIED_SINCE, m.clone()));
        }
        let req = Req {
            method: Method::GET,
            path_and_query: target.own_path(),
            headers,
            json_body: None,
            max_body: FeedLimits::default().max_bytes,
            timeout: self.settings.timeout,
        };
        let a = self.client.send(target, req).map_err(|e| format!("{url}: {e}"))?;
        match a.status {
            304 if state.feed.is_some() => Ok(Fetched::NotModified),
            200..=299 => {
                let header =
                    |h| a.headers.get(h).and_then(|v: &hyper::header::HeaderValue| v.to_str().ok()).map(str::to_owned);
                Ok(Fetched::Bytes { etag: header(ETAG), last_modified: header(LAST_MODIFIED), bytes: a.body })
            }
            s => Err(format!("{url}: status {s}")),
        }
    }

    /// Parses `bytes` as feed `i` and keeps it when it holds entries.
    fn take(&mut self, i: usize, bytes: &[u8]) -> Result<(), String> {
        let f = &self.settings.feeds[i];
        let feed = parse_with(f.format, &f.name, bytes, &FeedLimits::default()).map_err(|e| e.to_string())?;
        if let Some(msg) = feed.first_error_message() {
            tracing::warn!(feed = f.name, bad_lines = feed.bad_lines, first = msg, "threat-intel feed lines skipped");
        }
        self.metrics().set_entries(i, feed.entries.len());
        self.feeds[i].feed = Some(feed);
        Ok(())
    }

    /// Builds a matcher over every feed's last good data and swaps it in.
    fn rebuild(&mut self) {
        let feeds: Vec<Feed> = self.feeds.iter().filter_map(|f| f.feed.clone()).collect();
        match IntelMatcher::build(&feeds, &self.settings.ignoreip, MAX_ENTRIES) {
            Ok(m) => self.current.set(m),
            Err(err) => tracing::error!(%err, "cannot build the threat-intel matcher; keeping the previous one"),
        }
    }
}

/// Reads at most `max` bytes of `path`; a larger file is an error.
fn read_capped(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(max as u64 + 1).read_to_end(&mut buf)?;
    if buf.len() > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(buf)
}

/// Temp file, fsync, rename, fsync of the directory: a crash leaves the old copy or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("feed.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.feed");
        write_atomically(&p, b"192.0.2.0/24\n").unwrap();
        write_atomically(&p, b"198.51.100.0/24\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"198.51.100.0/24\n");
        assert!(!dir.path().join("a.feed.tmp").exists());
        assert!(read_capped(&p, 4).unwrap_err().to_string().contains("larger than 4 bytes"));
    }
}
