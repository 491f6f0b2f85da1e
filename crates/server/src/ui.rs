//! The web UI embedded in the binary: `ui/dist` served at `/` (the page) and `/ui/...` (hashed assets), with
//! content types, cache headers and build-time gzip; a page saying how to build it when the binary has none.
//! Unknown API paths stay errors, never the page. For UI development, `VIGIL_UI_DIR=ui/dist` serves that
//! directory from disk instead, so `npm run build` and a reload show a change without rebuilding vigil.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, ErrorType};

/// One embedded file of `ui/dist`.
pub struct Asset {
    /// The path under `ui/dist`, e.g. `index.html` or `ui/app-3F2A.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped at build time, for the larger text files.
    pub gzip: Option<&'static [u8]>,
}

/// Every file of `ui/dist` at build time; empty when the UI was not built.
static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));

/// Whether this binary carries the built UI.
pub fn is_built() -> bool {
    find("index.html").is_some()
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// What `/` answers when the binary was built without the UI.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>vigil</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5\">\
<h1>The vigil UI was not built</h1>\
<p>This binary was compiled without the web UI. Build it with Node.js 20 or later, then rebuild vigil:</p>\
<pre>(cd ui &amp;&amp; npm ci &amp;&amp; npm run build) &amp;&amp; cargo build --release</pre>\
<p>The HTTP API works without it, e.g. <a href=\"/api/v1/query?query=up\">/api/v1/query?query=up</a>.</p>\n";

/// The router's fallback: the UI for `GET /` and `/ui/...`, a JSON 404 under `/api/`, a plain 404 elsewhere.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") {
        let error = ApiError { kind: ErrorType::NotFound, message: format!("unknown api path {path}") };
        return error.into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let file = match path {
        "/" | "/index.html" => "index.html",
        p if p.starts_with("/ui/") => &p[1..],
        _ => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    if let Some(dir) = dev_dir() {
        return serve_from_disk(dir, file);
    }
    match find(file) {
        Some(asset) => serve(asset, &headers),
        None if file == "index.html" => {
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], NOT_BUILT)
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// `VIGIL_UI_DIR`, read once.
fn dev_dir() -> Option<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("VIGIL_UI_DIR").filter(|d| !d.is_empty()).map(Into::into)).as_deref()
}

/// A file of the development directory, never cached; `file` is `index.html` or `ui/<name>` from the URL.
fn serve_from_disk(dir: &std::path::Path, file: &str) -> Response {
    let safe = file.split('/').all(|part| !part.is_empty() && part != ".." && part != "." && !part.contains('\\'));
    if !safe {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    match std::fs::read(dir.join(file)) {
        Ok(body) => {
            ([(header::CONTENT_TYPE, content_type(file)), (header::CACHE_CONTROL, "no-cache")], body).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let cache = if asset.path == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(asset.path)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    match asset.gzip {
        Some(gz) if accepts_gzip(request) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (headers, gz).into_response()
        }
        _ => (headers, asset.body).into_response(),
    }
}

/// Whether `Accept-Encoding` lists gzip with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let zero =
                parts.any(|p| matches!(p.trim().strip_prefix("q="), Some(q) if q.trim().parse::<f32>() == Ok(0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !zero
        },
    )
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("ui/app-ABC.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("ui/app-ABC.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("ui/x"), "application/octet-stream");
    }

    #[test]
    fn the_development_directory_serves_its_files_and_nothing_outside() {
        let root = tempfile::tempdir().unwrap();
        let dist = root.path().join("dist");
        std::fs::create_dir_all(dist.join("ui")).unwrap();
        std::fs::write(dist.join("ui/app.js"), "let x = 1;").unwrap();
        std::fs::write(root.path().join("secret"), "no").unwrap();
        let ok = serve_from_disk(&dist, "ui/app.js");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(ok.headers()[header::CACHE_CONTROL], "no-cache");
        for bad in ["ui/../../secret", "ui/missing.js", "ui//app.js", "ui/.\\x"] {
            assert_eq!(serve_from_disk(&dist, bad).status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }
}
