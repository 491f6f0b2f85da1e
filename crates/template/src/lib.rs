//! Go's `text/template` for vigil, so that Prometheus alerting-rule templates and Alertmanager notification
//! templates users already have work unchanged.
//!
//! ```
//! use vigil_template::{prometheus, Env, Functions, Template, Value};
//!
//! // An alerting rule's annotation, as Prometheus expands it.
//! let funcs = prometheus::functions("http://prom.example:9090");
//! let text = "{{ $labels.instance }} is at {{ $value | humanizePercentage }}";
//! let t = prometheus::parse_rule_template("summary", text, &funcs)?;
//! let data = prometheus::rule_data([("instance", "db1")], [("region", "eu")], "", 0.8712);
//! assert_eq!(prometheus::expand(&t, &data, None)?, "db1 is at 87.12%");
//!
//! // Any text with the builtins only, on hand-built data.
//! let text = r#"{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ printf "%q" $e }}{{ end }}"#;
//! let t = Template::parse("x", text, &Functions::new())?;
//! assert_eq!(t.execute(&Value::list(["a", "b"]), &Env::new())?, r#""a", "b""#);
//! # Ok::<(), vigil_template::TemplateError>(())
//! ```
//!
//! The pieces:
//! - [`Template::parse`] parses text into a set of named templates (the text itself plus each `{{define}}`
//!   and `{{block}}`), against a [`Functions`] table fixed at parse time: calling an unknown function is a
//!   parse error, as in Go. [`Template::add`] parses more text into the set, [`Template::with_root`] derives a
//!   template with another root sharing the definitions (Alertmanager's way of executing a notification
//!   field against its template files).
//! - [`Template::execute`] and [`Template::execute_template`] run a template over a dot [`Value`], with an
//!   [`Env`] giving predeclared variables (such as Prometheus' `$labels`) and host data for functions (such as
//!   the query engine behind `query`). Parsing and execution are separate: a `Template` is `Send + Sync` and
//!   executes any number of times concurrently.
//! - [`Value`] is Go's dynamic data: nil, bool, int, float64, string, lists, string-keyed maps, and host
//!   [`Object`]s with fields, methods and an underlying list or map, which is how the alerting crate models
//!   Alertmanager's `Alerts`, `KV` and `Pairs`.
//! - Function sets: Go's builtins always; [`prometheus::functions`] and [`alertmanager::functions`] to add.
//! - [`Options`] bound what a hostile template can cost: output size, nesting and template recursion depth,
//!   and the number of evaluation steps. Nothing in here panics on template text or data.
//!
//! Differences from Go: no complex numbers, no `call` builtin, no custom delimiters, no `%x`/`%b` on floats
//! nor `%p`, host objects without a `String` method print as `{TYPE}`, times are only in UTC, and by default the
//! comparison functions compare an int with a float numerically where Go reports incompatible types (see
//! [`Options::mixed_number_comparison`]).

mod error;
mod exec;
pub mod format;
pub mod funcs;
mod lex;
mod node;
mod parse;
mod strconv;
pub mod time;
mod value;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use error::{FuncError, TemplateError};
pub use funcs::{alertmanager, prometheus, Arity, Call, FuncResult, Functions};
pub use value::{Map, Object, Value};

/// What a missing map key evaluates to: Go's `missingkey` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Nil, which prints as `<no value>` (Go's default).
    #[default]
    Default,
    /// The zero value of the map's element type: the empty string for label sets (what Prometheus and
    /// Alertmanager use).
    Zero,
    /// An execution error.
    Error,
}

/// How templates are parsed and executed, and the limits that keep hostile templates cheap.
#[derive(Clone, Debug)]
pub struct Options {
    pub missing_key: MissingKey,
    /// Most bytes one execution may write; also the largest string a function may return.
    pub max_output: usize,
    /// Deepest nesting of control structures and parentheses, in the text and at execution counting
    /// `{{template}}` calls: bounds recursion.
    pub max_depth: usize,
    /// Most nodes and commands one execution may evaluate: bounds loops and template fan-out that print nothing.
    pub max_steps: u64,
    /// Whether `eq`, `lt` and the other comparisons compare an int with a float numerically, so that
    /// `{{ if gt $value 80 }}` works. Go reports `incompatible types for comparison` instead.
    pub mixed_number_comparison: bool,
    /// Variables (with their `$`) defined in every template of the set, whose values each execution's
    /// [`Env`] gives: Prometheus' `$labels` and friends.
    pub variables: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            missing_key: MissingKey::Default,
            max_output: 1 << 20,
            max_depth: 100,
            max_steps: 10_000_000,
            mixed_number_comparison: true,
            variables: Vec::new(),
        }
    }
}

/// What one execution sees besides dot: values for the predeclared variables and data for host functions.
#[derive(Default)]
pub struct Env<'a> {
    vars: Vec<(String, Value)>,
    host: Option<&'a dyn Any>,
    querier: Option<&'a prometheus::QueryHook<'a>>,
}

impl fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars)
            .field("host", &self.host.is_some())
            .field("querier", &self.querier.is_some())
            .finish()
    }
}

impl<'a> Env<'a> {
    pub fn new() -> Env<'a> {
        Env::default()
    }

    /// Sets a predeclared variable (the name with or without its `$`).
    pub fn var(mut self, name: &str, value: impl Into<Value>) -> Env<'a> {
        let name = if name.starts_with('$') { name.to_string() } else { format!("${name}") };
        self.vars.retain(|(n, _)| *n != name);
        self.vars.push((name, value.into()));
        self
    }

    /// Data for host functions, which they get back with [`Call::host`].
    pub fn host(mut self, host: &'a dyn Any) -> Env<'a> {
        self.host = Some(host);
        self
    }

    /// A borrowed evaluator for Prometheus' `query` function, used before any [`prometheus::QueryContext`]
    /// given to [`Env::host`]: lets a host whose query engine is not `'static` answer `query`.
    pub fn querier(mut self, querier: &'a prometheus::QueryHook<'a>) -> Env<'a> {
        self.querier = Some(querier);
        self
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// A set of parsed templates with a root: Go's `*template.Template`.
#[derive(Clone)]
pub struct Template {
    name: Arc<str>,
    trees: Arc<HashMap<String, Arc<node::Tree>>>,
    funcs: Arc<Functions>,
    options: Arc<Options>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template").field("name", &self.name).field("templates", &self.names()).finish()
    }
}

impl Template {
    /// Parses `text` as the template `name`, with default [`Options`].
    pub fn parse(name: &str, text: &str, funcs: &Functions) -> Result<Template, TemplateError> {
        Template::parse_with(name, text, funcs, Options::default())
    }

    /// Parses `text` as the template `name`.
    pub fn parse_with(
        name: &str,
        text: &str,
        funcs: &Functions,
        mut options: Options,
    ) -> Result<Template, TemplateError> {
        for v in &mut options.variables {
            if !v.starts_with('$') {
                v.insert(0, '$');
            }
        }
        let mut t = Template {
            name: Arc::from(name),
            trees: Arc::default(),
            funcs: Arc::new(funcs.clone()),
            options: Arc::new(options),
        };
        t.add(name, text)?;
        Ok(t)
    }

    /// Parses `text` as the template `name` into this set, with the set's functions and options, as Go's
    /// `t.New(name).Parse(text)`. Templates it defines replace those of the same name, except that an empty
    /// definition does not replace a non-empty one. On error the set is unchanged.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), TemplateError> {
        let trees = parse::parse(name, text, &self.funcs, &self.options)?;
        let map = Arc::make_mut(&mut self.trees);
        for tree in trees {
            if tree.is_empty() && map.contains_key(&tree.name) {
                continue;
            }
            map.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(())
    }

    /// A template whose root is `text` parsed as `name`, sharing this set's definitions (which `text` may
    /// use and override without changing this set).
    pub fn with_root(&self, name: &str, text: &str) -> Result<Template, TemplateError> {
        let mut t = self.clone();
        t.name = Arc::from(name);
        t.add(name, text)?;
        Ok(t)
    }

    /// The root template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The names of the templates in the set, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.trees.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether the set has a template called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Executes the root template with `dot` as data.
    pub fn execute(&self, dot: &Value, env: &Env<'_>) -> Result<String, TemplateError> {
        self.execute_template(&self.name, dot, env)
    }

    /// Executes the template `name` of the set with `dot` as data.
    pub fn execute_template(&self, name: &str, dot: &Value, env: &Env<'_>) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError::NoTemplate { name: name.to_string(), root: self.name.to_string() });
        };
        exec::execute(self, tree, dot, env)
    }
}
