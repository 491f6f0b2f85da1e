//! Alertmanager 0.25's template functions (`template/template.go` `DefaultFuncs`), plus `since`,
//! `humanizeDuration`, `date` and `tz` from later releases. The notification data (`Alerts`, `KV`, `Pairs`) is
//! the host's to model as [`Object`](crate::Object)s.

use super::prometheus::{humanize_duration, re_match, re_replace_all};
use super::text::{title, to_lower, to_upper};
use super::{convert_to_float, string_arg, strings_arg, Arity, Functions};
use crate::error::FuncError;
use crate::time::Time;
use crate::value::Value;
use crate::{MissingKey, Options};

/// Alertmanager's functions.
pub fn functions() -> Functions {
    let mut f = Functions::new();
    f.add("toUpper", Arity::Exact(1), |_, args| Ok(to_upper(string_arg(&args[0])?).into()));
    f.add("toLower", Arity::Exact(1), |_, args| Ok(to_lower(string_arg(&args[0])?).into()));
    f.add("title", Arity::Exact(1), |_, args| Ok(title(string_arg(&args[0])?, true).into()));
    f.add("trimSpace", Arity::Exact(1), |_, args| Ok(string_arg(&args[0])?.trim().into()));
    f.add("join", Arity::Exact(2), |_, args| {
        let sep = string_arg(&args[0])?;
        Ok(strings_arg(&args[1])?.join(sep).into())
    });
    f.add("match", Arity::Exact(2), re_match);
    f.add("safeHtml", Arity::Exact(1), |_, args| Ok(string_arg(&args[0])?.into()));
    f.add("reReplaceAll", Arity::Exact(3), re_replace_all);
    f.add("stringSlice", Arity::AtLeast(0), |_, args| {
        args.iter().map(|a| string_arg(a).map(Value::from)).collect::<Result<Vec<_>, _>>().map(Value::from)
    });
    f.add("humanizeDuration", Arity::Exact(1), |_, args| Ok(humanize_duration(convert_to_float(&args[0])?).into()));
    f.add("since", Arity::Exact(1), |_, args| Ok(Value::object(Time::now().sub(time_arg(&args[0])?))));
    f.add("date", Arity::Exact(2), |_, args| {
        let layout = string_arg(&args[0])?;
        Ok(time_arg(&args[1])?.format(layout).into())
    });
    f.add("tz", Arity::Exact(2), |_, args| {
        let name = string_arg(&args[0])?;
        let t = time_arg(&args[1])?;
        // Without a time zone database only UTC is known.
        match name {
            "" | "UTC" => Ok(Value::object(*t)),
            _ => Err(FuncError::new(format!("unknown time zone {name}"))),
        }
    });
    f
}

/// Alertmanager's template options: `missingkey=zero`.
pub fn options() -> Options {
    Options { missing_key: MissingKey::Zero, ..Options::default() }
}

fn time_arg(v: &Value) -> Result<&Time, FuncError> {
    v.as_object().and_then(|o| o.downcast_ref::<Time>()).ok_or_else(|| FuncError::wrong_type("time.Time", v))
}
