//! Template functions: the table a template is parsed against, how a function receives its arguments and the
//! execution it runs in, and argument conversions shared by the function sets.

pub mod alertmanager;
pub(crate) mod builtin;
pub(crate) mod escape;
pub mod prometheus;
pub(crate) mod text;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::error::FuncError;
use crate::value::Value;
use crate::Options;

/// What a function returns.
pub type FuncResult = Result<Value, FuncError>;

type Body = dyn Fn(&mut Call<'_>, &[Value]) -> FuncResult + Send + Sync;

/// How many arguments a function takes (the value piped in counts as the last one). Execution checks it
/// before calling, with Go's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Exact(usize),
    AtLeast(usize),
}

#[derive(Clone)]
pub(crate) struct Function {
    pub arity: Arity,
    pub body: Arc<Body>,
}

/// A function table: the functions a template may call besides Go's builtins. As in Go, it must be complete
/// when the template is parsed (calling an unknown function is a parse error), and a function here shadows a
/// builtin of the same name.
#[derive(Clone, Default)]
pub struct Functions {
    map: HashMap<String, Function>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.map.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Functions").field("names", &names).finish()
    }
}

impl Functions {
    /// An empty table: templates parsed with it see only Go's builtins.
    pub fn new() -> Functions {
        Functions::default()
    }

    /// Adds (or replaces) the function `name`.
    pub fn add(
        &mut self,
        name: &str,
        arity: Arity,
        body: impl Fn(&mut Call<'_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    ) -> &mut Functions {
        self.map.insert(name.to_string(), Function { arity, body: Arc::new(body) });
        self
    }

    /// Adds every function of `other`, replacing those of the same name.
    pub fn extend(&mut self, other: &Functions) -> &mut Functions {
        self.map.extend(other.map.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.map.get(name)
    }
}

/// The execution a function is called from: the host's data and a regular-expression cache.
pub struct Call<'a> {
    pub(crate) host: Option<&'a dyn Any>,
    pub(crate) querier: Option<&'a prometheus::QueryHook<'a>>,
    pub(crate) regexes: &'a mut RegexCache,
    pub(crate) options: &'a Options,
}

impl Call<'_> {
    /// The value the host passed with [`Env::host`](crate::Env::host), if it has type `T`.
    pub fn host<T: Any>(&self) -> Option<&T> {
        self.host.and_then(|h| h.downcast_ref::<T>())
    }

    /// Compiles `pattern` with Go's regexp syntax (RE2, which the regex crate shares), reusing earlier
    /// compilations of this execution. The error reads like Go's: ``error parsing regexp: REASON: `PATTERN` ``.
    pub fn regex(&mut self, pattern: &str) -> Result<Regex, String> {
        self.regexes.get(pattern)
    }

    pub(crate) fn mixed_number_comparison(&self) -> bool {
        self.options.mixed_number_comparison
    }
}

/// Compiled patterns of one execution, so that `reReplaceAll` in a `range` compiles its pattern once.
#[derive(Default)]
pub(crate) struct RegexCache {
    entries: Vec<(String, Regex)>,
}

const REGEX_CACHE_SIZE: usize = 16;
/// Bounds the memory a hostile pattern can make the compiler use.
const REGEX_SIZE_LIMIT: usize = 1 << 21;

impl RegexCache {
    fn get(&mut self, pattern: &str) -> Result<Regex, String> {
        if let Some((_, re)) = self.entries.iter().find(|(p, _)| p == pattern) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(|e| {
            let reason = match &e {
                regex::Error::Syntax(s) => s.lines().last().unwrap_or(s).trim_start_matches("error: ").to_string(),
                e => e.to_string(),
            };
            format!("error parsing regexp: {reason}: `{pattern}`")
        })?;
        if self.entries.len() == REGEX_CACHE_SIZE {
            self.entries.remove(0);
        }
        self.entries.push((pattern.to_string(), re.clone()));
        Ok(re)
    }
}

/// A `string` parameter.
pub fn string_arg(v: &Value) -> Result<&str, FuncError> {
    match v {
        Value::String(s) => Ok(s),
        v => Err(FuncError::wrong_type("string", v)),
    }
}

/// A `[]string` parameter: a list (or an object over one) of strings.
pub fn strings_arg(v: &Value) -> Result<Vec<String>, FuncError> {
    match v.resolved() {
        Value::List(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.to_string()),
                _ => Err(FuncError::wrong_type("[]string", v)),
            })
            .collect(),
        _ => Err(FuncError::wrong_type("[]string", v)),
    }
}

/// Checks the argument count of a method, which execution cannot check for the object.
pub fn check_arity(name: &str, args: &[Value], want: usize) -> Result<(), FuncError> {
    if args.len() == want {
        Ok(())
    } else {
        Err(FuncError::arity(name, want, args.len()))
    }
}

/// Go's `%T` names of values as Prometheus' `convertToFloat` reports them.
fn go_type(v: &Value) -> String {
    v.type_name()
}

/// Prometheus' `convertToFloat`: numbers, numeric strings and durations (in seconds) become a float64.
pub fn convert_to_float(v: &Value) -> Result<f64, FuncError> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::String(s) => crate::strconv::parse_float(s).map_err(|e| {
            let why = match e {
                crate::strconv::FloatError::Syntax => "invalid syntax",
                crate::strconv::FloatError::Range => "value out of range",
            };
            FuncError::new(format!("strconv.ParseFloat: parsing {}: {why}", crate::strconv::quote(s, false)))
        }),
        Value::Object(o) => match o.downcast_ref::<crate::time::Duration>() {
            Some(d) => Ok(d.seconds()),
            None => Err(FuncError::new(format!("can't convert {} to float", go_type(v)))),
        },
        v => Err(FuncError::new(format!("can't convert {} to float", go_type(v)))),
    }
}
