//! The dynamic values templates work on: Go's nil, bool, int, float64, string, slices, string-keyed maps, and
//! objects the host defines (structs with fields and methods, named slice and map types).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::FuncError;

/// A value as a template sees it. Cloning is cheap: strings, lists, maps and objects are reference counted.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's untyped nil; also what a missing map key or an unset variable evaluates to. Printed by an action as
    /// `<no value>`, by `print` and `printf` as `<nil>`, as Go does.
    #[default]
    Nil,
    Bool(bool),
    /// Go's `int`: what integer literals evaluate to.
    Int(i64),
    /// Go's `float64`.
    Float(f64),
    String(Arc<str>),
    /// A slice (`[]interface {}`).
    List(Arc<[Value]>),
    /// A map with string keys, ranged over in key order.
    Map(Arc<Map>),
    /// A value of a host type: see [`Object`].
    Object(Arc<dyn Object>),
}

/// A value of a type the host defines, such as Alertmanager's `Alert` struct or its `KV` map type.
///
/// Field access `.Name` first looks for a method called `Name` (called with the arguments that follow it, as
/// in `.Remove (stringSlice "a")`), then, if the object is a map underneath, for the key `Name`, then for a
/// field. Everything else (`range`, `len`, `index`, comparisons, printing without [`Object::display`]) uses
/// [`Object::underlying`], the Go value the type is defined over.
pub trait Object: Any + Send + Sync + fmt::Debug {
    /// The Go type name used in error messages, e.g. `template.Alert`.
    fn type_name(&self) -> &str;

    /// The value of the field `name`, or `None` if the type has no such field.
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }

    /// Whether the type has a method `name`.
    fn has_method(&self, _name: &str) -> bool {
        false
    }

    /// Calls the method `name` (for which [`Object::has_method`] returned true). Wrong argument counts and types
    /// should be reported with [`FuncError::arity`] and [`FuncError::wrong_type`].
    fn call_method(&self, name: &str, _args: &[Value]) -> Result<Value, FuncError> {
        Err(FuncError::new(format!("no method {name}")))
    }

    /// The list, map or basic value the type is defined over (Go's underlying type), if any: `Alerts` is a list,
    /// `KV` a map, `time.Duration` an int. Called on every use, so it should be cheap: keep the value built.
    fn underlying(&self) -> Option<Value> {
        None
    }

    /// The text of Go's `String() string` method, used when printing with `{{ }}`, `%v` and `%s`.
    fn display(&self) -> Option<String> {
        None
    }
}

impl dyn Object {
    /// The object as its concrete type, for functions that accept a specific host type.
    pub fn downcast_ref<T: Object>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

/// A map with string keys. `Map::new` is Go's `map[string]interface {}`, `Map::strings` its
/// `map[string]string`: the difference shows in what a missing key evaluates to under
/// [`MissingKey::Zero`](crate::MissingKey) and with `index` (nil or the empty string), and in type names.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: BTreeMap<String, Value>,
    strings: bool,
}

impl Map {
    /// An empty `map[string]interface {}`.
    pub fn new() -> Map {
        Map::default()
    }

    /// An empty `map[string]string`. Values inserted should be strings.
    pub fn strings() -> Map {
        Map { entries: BTreeMap::new(), strings: true }
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.entries.insert(key.into(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether this is a `map[string]string`.
    pub fn is_string_map(&self) -> bool {
        self.strings
    }

    /// The zero value of the element type.
    pub fn zero(&self) -> Value {
        if self.strings {
            Value::from("")
        } else {
            Value::Nil
        }
    }

    pub fn type_name(&self) -> &'static str {
        if self.strings {
            "map[string]string"
        } else {
            "map[string]interface {}"
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Map {
        Map { entries: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), strings: false }
    }
}

impl Value {
    /// A list of values.
    pub fn list<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }

    /// A `map[string]string`, such as a label set.
    pub fn string_map<K: Into<String>, V: Into<String>>(entries: impl IntoIterator<Item = (K, V)>) -> Value {
        let mut map = Map::strings();
        for (k, v) in entries {
            map.insert(k, Value::from(v.into()));
        }
        Value::Map(Arc::new(map))
    }

    /// A host object.
    pub fn object(object: impl Object) -> Value {
        Value::Object(Arc::new(object))
    }

    /// Go's truth: false, 0, nil and empty strings, lists and maps are false; other objects are true.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.underlying().is_none_or(|u| u.truth()),
        }
    }

    /// The Go type name, as error messages and `%T` show it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(m) => m.type_name().into(),
            Value::Object(o) => o.type_name().into(),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&dyn Object> {
        match self {
            Value::Object(o) => Some(o.as_ref()),
            _ => None,
        }
    }

    /// This value, or for an object the value it is defined over (if any): what `range`, `len`, `index` and
    /// comparisons look at.
    pub fn resolved(&self) -> Value {
        match self {
            Value::Object(o) => o.underlying().unwrap_or_else(|| self.clone()),
            _ => self.clone(),
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Value {
        Value::Int(v.into())
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.into())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v.into())
    }
}

impl From<Arc<str>> for Value {
    fn from(v: Arc<str>) -> Value {
        Value::String(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::List(v.into())
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Value {
        Value::Map(Arc::new(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}
