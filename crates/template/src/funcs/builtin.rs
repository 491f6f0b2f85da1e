//! Go's builtin template functions: `and`, `or`, `not`, `len`, `index`, `slice`, `print`, `printf`, `println`,
//! `html`, `js`, `urlquery` and the comparisons `eq`, `ne`, `lt`, `le`, `gt`, `ge`.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use super::{escape, Arity, Call, FuncResult, Functions};
use crate::error::FuncError;
use crate::format;
use crate::value::Value;

/// The builtins. `and` and `or` are here for arity checks and lookups; execution evaluates them lazily itself.
pub(crate) fn builtins() -> &'static Functions {
    static BUILTINS: OnceLock<Functions> = OnceLock::new();
    BUILTINS.get_or_init(|| {
        let mut f = Functions::new();
        f.add("and", Arity::AtLeast(1), |_, args| {
            Ok(args.iter().find(|a| !a.truth()).unwrap_or(&args[args.len() - 1]).clone())
        });
        f.add("or", Arity::AtLeast(1), |_, args| {
            Ok(args.iter().find(|a| a.truth()).unwrap_or(&args[args.len() - 1]).clone())
        });
        f.add("not", Arity::Exact(1), |_, args| Ok(Value::Bool(!args[0].truth())));
        f.add("len", Arity::Exact(1), |_, args| length(&args[0]));
        f.add("index", Arity::AtLeast(1), |_, args| index(&args[0], &args[1..]));
        f.add("slice", Arity::AtLeast(1), |_, args| slice(&args[0], &args[1..]));
        f.add("print", Arity::AtLeast(0), |_, args| Ok(format::sprint(args).into()));
        f.add("println", Arity::AtLeast(0), |_, args| Ok(format::sprintln(args).into()));
        f.add("printf", Arity::AtLeast(1), |_, args| {
            let fmt = super::string_arg(&args[0])?;
            Ok(format::sprintf(fmt, &args[1..]).into())
        });
        f.add("html", Arity::AtLeast(0), |_, args| Ok(escape::html(&format::eval_args(args)).into()));
        f.add("js", Arity::AtLeast(0), |_, args| Ok(escape::js(&format::eval_args(args)).into()));
        f.add("urlquery", Arity::AtLeast(0), |_, args| Ok(escape::query(&format::eval_args(args)).into()));
        f.add("eq", Arity::AtLeast(1), |call, args| eq(call, &args[0], &args[1..]).map(Value::Bool));
        f.add("ne", Arity::Exact(2), |call, args| eq(call, &args[0], &args[1..2]).map(|b| Value::Bool(!b)));
        f.add("lt", Arity::Exact(2), |call, args| lt(call, &args[0], &args[1]).map(Value::Bool));
        f.add("le", Arity::Exact(2), |call, args| le(call, &args[0], &args[1]).map(Value::Bool));
        f.add("gt", Arity::Exact(2), |call, args| le(call, &args[0], &args[1]).map(|b| Value::Bool(!b)));
        f.add("ge", Arity::Exact(2), |call, args| lt(call, &args[0], &args[1]).map(|b| Value::Bool(!b)));
        f
    })
}

fn length(item: &Value) -> FuncResult {
    match item.resolved() {
        Value::String(s) => Ok(s.len().into()),
        Value::List(l) => Ok(l.len().into()),
        Value::Map(m) => Ok(m.len().into()),
        Value::Nil => Err(FuncError::new("len of nil pointer")),
        _ => Err(FuncError::new(format!("len of type {}", item.type_name()))),
    }
}

/// Go's `indexArg`: an int index within `0..=cap`.
fn index_arg(index: &Value, cap: usize) -> Result<usize, FuncError> {
    match index.resolved() {
        Value::Int(x) => match usize::try_from(x) {
            Ok(i) if i <= cap => Ok(i),
            _ => Err(FuncError::new(format!("index out of range: {x}"))),
        },
        Value::Nil => Err(FuncError::new("cannot index slice/array with nil")),
        _ => Err(FuncError::new(format!("cannot index slice/array with type {}", index.type_name()))),
    }
}

fn index(item: &Value, indexes: &[Value]) -> FuncResult {
    if matches!(item, Value::Nil) {
        return Err(FuncError::new("index of untyped nil"));
    }
    let mut item = item.clone();
    for index in indexes {
        let outer = item.clone();
        item = match outer.resolved() {
            Value::List(l) => {
                let i = index_arg(index, l.len())?;
                l.get(i).cloned().ok_or_else(|| FuncError::new(format!("index out of range: {i}")))?
            }
            Value::String(s) => {
                let i = index_arg(index, s.len())?;
                let b = s.as_bytes().get(i).ok_or_else(|| FuncError::new(format!("index out of range: {i}")))?;
                Value::Int((*b).into())
            }
            Value::Map(m) => match index.resolved() {
                Value::String(k) => m.get(&k).cloned().unwrap_or_else(|| m.zero()),
                Value::Nil => m.get("").cloned().unwrap_or_else(|| m.zero()),
                _ => return Err(FuncError::new(format!("value has type {}; should be string", index.type_name()))),
            },
            Value::Nil => return Err(FuncError::new("index of nil pointer")),
            _ => return Err(FuncError::new(format!("can't index item of type {}", outer.type_name()))),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> FuncResult {
    if matches!(item, Value::Nil) {
        return Err(FuncError::new("slice of untyped nil"));
    }
    if indexes.len() > 3 {
        return Err(FuncError::new(format!("too many slice indexes: {}", indexes.len())));
    }
    let resolved = item.resolved();
    let len = match &resolved {
        Value::String(s) => {
            if indexes.len() == 3 {
                return Err(FuncError::new("cannot 3-index slice a string"));
            }
            s.len()
        }
        Value::List(l) => l.len(),
        _ => return Err(FuncError::new(format!("can't slice item of type {}", item.type_name()))),
    };
    let mut idx = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return Err(FuncError::new(format!("invalid slice index: {} > {}", idx[0], idx[1])));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(FuncError::new(format!("invalid slice index: {} > {}", idx[1], idx[2])));
    }
    Ok(match resolved {
        Value::String(s) => String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned().into(),
        Value::List(l) => Value::List(Arc::from(&l[idx[0]..idx[1]])),
        _ => Value::Nil,
    })
}

/// A value of one of Go's basic kinds, which the comparison functions accept.
enum Basic {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(Arc<str>),
}

fn basic(v: &Value) -> Option<Basic> {
    match v.resolved() {
        Value::Bool(b) => Some(Basic::Bool(b)),
        Value::Int(i) => Some(Basic::Int(i)),
        Value::Float(f) => Some(Basic::Float(f)),
        Value::String(s) => Some(Basic::String(s)),
        _ => None,
    }
}

fn incompatible(a: &Value, b: &Value) -> FuncError {
    FuncError::new(format!("incompatible types for comparison: {} and {}", a.type_name(), b.type_name()))
}

/// Compares two basic values of the same kind; ints and floats compare numerically only when the options
/// allow it (Go refuses).
fn compare(call: &Call<'_>, a: &Value, b: &Value, x: &Basic, y: &Basic) -> Result<Option<Ordering>, FuncError> {
    Ok(match (x, y) {
        (Basic::Bool(p), Basic::Bool(q)) => Some(p.cmp(q)),
        (Basic::Int(p), Basic::Int(q)) => Some(p.cmp(q)),
        (Basic::Float(p), Basic::Float(q)) => p.partial_cmp(q),
        (Basic::String(p), Basic::String(q)) => Some(p.cmp(q)),
        (Basic::Int(p), Basic::Float(q)) if call.mixed_number_comparison() => (*p as f64).partial_cmp(q),
        (Basic::Float(p), Basic::Int(q)) if call.mixed_number_comparison() => p.partial_cmp(&(*q as f64)),
        _ => return Err(incompatible(a, b)),
    })
}

fn eq(call: &Call<'_>, a: &Value, others: &[Value]) -> Result<bool, FuncError> {
    if others.is_empty() {
        return Err(FuncError::new("missing argument for comparison"));
    }
    let x = basic(a);
    for b in others {
        let truth = match (&x, basic(b)) {
            (Some(x), Some(y)) => compare(call, a, b, x, &y)? == Some(Ordering::Equal),
            _ => match (a, b) {
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::Object(p), Value::Object(q)) if x.is_none() => Arc::ptr_eq(p, q),
                (Value::List(_) | Value::Map(_), _) if x.is_none() && basic(b).is_none() => {
                    return Err(FuncError::new(format!(
                        "non-comparable type {}: {}",
                        format::sprint(std::slice::from_ref(a)),
                        a.type_name()
                    )));
                }
                _ => return Err(incompatible(a, b)),
            },
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(call: &Call<'_>, a: &Value, b: &Value) -> Result<bool, FuncError> {
    let bad = || FuncError::new("invalid type for comparison");
    let x = basic(a).ok_or_else(bad)?;
    let y = basic(b).ok_or_else(bad)?;
    if let (Basic::Bool(_), Basic::Bool(_)) = (&x, &y) {
        return Err(bad());
    }
    Ok(compare(call, a, b, &x, &y)? == Some(Ordering::Less))
}

fn le(call: &Call<'_>, a: &Value, b: &Value) -> Result<bool, FuncError> {
    if lt(call, a, b)? {
        return Ok(true);
    }
    eq(call, a, std::slice::from_ref(b))
}
