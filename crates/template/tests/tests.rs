//! The single integration-test binary of vigil-template: Go text/template behaviour, Prometheus' and
//! Alertmanager's functions and templates, and hostile templates.

mod alertmanager;
mod go;
mod hostile;
mod prometheus;

use vigil_template::{Env, Functions, Options, Template, Value};

/// Parses `text` as template "t" with `funcs` and `options`, executes it over `dot`, and returns the output or
/// the error's text.
pub fn run_with(text: &str, dot: &Value, funcs: &Functions, options: Options) -> Result<String, String> {
    let t = Template::parse_with("t", text, funcs, options).map_err(|e| e.to_string())?;
    t.execute(dot, &Env::new()).map_err(|e| e.to_string())
}

/// [`run_with`] with the builtins only and default options.
pub fn run(text: &str, dot: &Value) -> Result<String, String> {
    run_with(text, dot, &Functions::new(), Options::default())
}

/// Checks each `(text, expected)` case, reporting every mismatch at once.
pub fn check_all(cases: &[(&str, Result<&str, &str>)], exec: impl Fn(&str) -> Result<String, String>) {
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = exec(text);
        let want = want.map(str::to_string).map_err(str::to_string);
        if got != want {
            failures.push(format!("{text:?}\n   got: {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
