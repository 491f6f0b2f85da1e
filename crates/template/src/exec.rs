//! Execution: walks a parsed tree over a value with Go's semantics (variable scopes, truth, field and method
//! lookup, pipelines, lazy `and`/`or`), within the output, depth and step limits, and reports errors at the node
//! Go would name.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::error::{FuncError, TemplateError};
use crate::format::{action_text, sprint};
use crate::funcs::builtin::builtins;
use crate::funcs::prometheus::QueryHook;
use crate::funcs::{Call, RegexCache};
use crate::node::{Arg, Branch, Chain, Command, Constant, Field, Node, Number, Pipe, Tree, Var};
use crate::strconv::quote;
use crate::value::{Map, Object, Value};
use crate::{Env, MissingKey, Template};

type Result<T> = std::result::Result<T, TemplateError>;

/// How a list of nodes ended: normally, or at a `{{break}}` or `{{continue}}` for the enclosing range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// A node for error reports: its position in the text and its printed form.
type At<'t> = (usize, &'t dyn fmt::Display);

pub(crate) fn execute(tmpl: &Template, tree: &Tree, dot: &Value, env: &Env<'_>) -> Result<String> {
    let globals: Vec<(&str, Value)> =
        tmpl.options.variables.iter().map(|name| (name.as_str(), env.get(name).cloned().unwrap_or_default())).collect();
    let mut s = State {
        tmpl,
        tree,
        out: String::new(),
        vars: Vec::new(),
        globals,
        node: None,
        depth: 0,
        steps: 0,
        host: env.host,
        querier: env.querier,
        regexes: RegexCache::default(),
    };
    s.vars = s.scope(dot.clone());
    s.walk_list(dot, &tree.root)?;
    Ok(s.out)
}

struct State<'t> {
    tmpl: &'t Template,
    /// The template running, for error messages.
    tree: &'t Tree,
    out: String,
    /// Variables in scope, innermost last.
    vars: Vec<(&'t str, Value)>,
    /// The predeclared variables, in scope in every template.
    globals: Vec<(&'t str, Value)>,
    /// The node being evaluated, for error messages; updated where Go updates it.
    node: Option<At<'t>>,
    depth: usize,
    steps: u64,
    host: Option<&'t dyn Any>,
    querier: Option<&'t QueryHook<'t>>,
    regexes: RegexCache,
}

impl<'t> State<'t> {
    fn scope(&self, dot: Value) -> Vec<(&'t str, Value)> {
        let mut vars = self.globals.clone();
        vars.push(("$", dot));
        vars
    }

    fn at(&mut self, pos: usize, node: &'t dyn fmt::Display) {
        self.node = Some((pos, node));
    }

    fn error(&self, message: impl Into<String>) -> TemplateError {
        let message = message.into();
        let Some((pos, node)) = self.node else {
            return TemplateError::Execute { template: self.tree.name.clone(), message };
        };
        let before = &self.tree.text[..pos.min(self.tree.text.len())];
        let line = 1 + before.matches('\n').count();
        let column = before.rfind('\n').map_or(pos, |i| pos - i - 1);
        TemplateError::Exec {
            template: self.tree.parse_name.to_string(),
            line,
            column,
            executing: self.tree.name.clone(),
            context: node.to_string(),
            message,
        }
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T> {
        Err(self.error(message))
    }

    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        if self.steps > self.tmpl.options.max_steps {
            return self.fail(format!("execution exceeded the limit of {} steps", self.tmpl.options.max_steps));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= self.tmpl.options.max_depth {
            return self.fail(format!("exceeded maximum template depth ({})", self.tmpl.options.max_depth));
        }
        self.depth += 1;
        Ok(())
    }

    fn write(&mut self, s: &str) -> Result<()> {
        let max = self.tmpl.options.max_output;
        if self.out.len() + s.len() > max {
            return self.fail(format!("output exceeds the limit of {max} bytes"));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &'t [Node]) -> Result<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> Result<Flow> {
        self.at(node.pos(), node);
        self.step()?;
        match node {
            Node::Text { text, .. } => self.write(text)?,
            Node::Action { pipe, pos } => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(*pos, node);
                    self.write(&action_text(&value))?;
                }
            }
            Node::If(b) => return self.walk_if_or_with(dot, b, false),
            Node::With(b) => return self.walk_if_or_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { name, pipe, .. } => self.walk_template(dot, name, pipe.as_ref())?,
            Node::Break { .. } => return Ok(Flow::Break),
            Node::Continue { .. } => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(&mut self, dot: &Value, b: &'t Branch, with: bool) -> Result<Flow> {
        let mark = self.vars.len();
        self.enter()?;
        let mut flow = None;
        for (pipe, list) in std::iter::once((&b.pipe, &b.list)).chain(b.else_ifs.iter().map(|(p, l)| (p, l))) {
            let value = self.eval_pipeline(dot, pipe)?;
            if value.truth() {
                flow = Some(if with { self.walk_list(&value, list)? } else { self.walk_list(dot, list)? });
                break;
            }
        }
        let flow = match (flow, &b.else_list) {
            (Some(flow), _) => flow,
            (None, Some(list)) => self.walk_list(dot, list)?,
            (None, None) => Flow::Normal,
        };
        self.depth -= 1;
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Value, b: &'t Branch) -> Result<Flow> {
        let mark = self.vars.len();
        self.enter()?;
        let value = self.eval_pipeline(dot, &b.pipe)?;
        let body = self.vars.len();
        let mut ran = false;
        match value.resolved() {
            Value::List(items) => {
                for (i, elem) in items.iter().enumerate() {
                    ran = true;
                    if self.iteration(b, body, Value::from(i), elem.clone())? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Map(map) => {
                for (key, elem) in map.iter() {
                    ran = true;
                    if self.iteration(b, body, Value::from(key), elem.clone())? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    return self.fail(format!("can't use {n} to iterate over more than one variable"));
                }
                for i in 0..n {
                    ran = true;
                    if self.iteration(b, body, Value::Int(i), Value::Int(i))? == Flow::Break {
                        break;
                    }
                }
            }
            Value::Nil => {}
            _ => return self.fail(format!("range can't iterate over {}", sprint(&[value]))),
        }
        if !ran {
            if let Some(list) = &b.else_list {
                self.walk_list(dot, list)?;
            }
        }
        self.depth -= 1;
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    /// One pass of a range body with the range's variables set to `index` and `elem`.
    fn iteration(&mut self, b: &'t Branch, body: usize, index: Value, elem: Value) -> Result<Flow> {
        self.step()?;
        let decl = &b.pipe.decl;
        if b.pipe.is_assign {
            match decl.len() {
                0 => {}
                1 => self.set_var(&decl[0].idents[0], elem.clone())?,
                _ => {
                    self.set_var(&decl[0].idents[0], index)?;
                    self.set_var(&decl[1].idents[0], elem.clone())?;
                }
            }
        } else {
            // The declarations were pushed by the pipeline: the element is on top, the index below it.
            if !decl.is_empty() {
                self.vars[body - 1].1 = elem.clone();
            }
            if decl.len() > 1 {
                self.vars[body - 2].1 = index;
            }
        }
        let flow = self.walk_list(&elem, &b.list)?;
        self.vars.truncate(body);
        Ok(flow)
    }

    fn walk_template(&mut self, dot: &Value, name: &str, pipe: Option<&'t Pipe>) -> Result<()> {
        let tmpl = self.tmpl;
        let Some(tree) = tmpl.trees.get(name) else {
            return self.fail(format!("template {} not defined", quote(name, false)));
        };
        self.enter()?;
        let dot = match pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => Value::Nil,
        };
        let scope = self.scope(dot.clone());
        let vars = std::mem::replace(&mut self.vars, scope);
        let caller = std::mem::replace(&mut self.tree, tree);
        self.walk_list(&dot, &tree.root)?;
        self.tree = caller;
        self.vars = vars;
        self.depth -= 1;
        Ok(())
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> Result<Value> {
        self.at(pipe.pos, pipe);
        let mut value = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or_default();
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&var.idents[0], value.clone())?;
            } else {
                self.vars.push((&var.idents[0], value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, name: &str, value: Value) -> Result<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn var_value(&self, name: &str) -> Result<Value> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn not_a_function(&self, args: &[Arg], last: &Option<Value>) -> Result<()> {
        if args.len() > 1 || last.is_some() {
            return self.fail(format!("can't give argument to non-function {}", args[0]));
        }
        Ok(())
    }

    /// Evaluates a command; `last` is the value piped in from the previous command, if any.
    fn eval_command(&mut self, dot: &Value, cmd: &'t Command, last: Option<Value>) -> Result<Value> {
        self.step()?;
        let first = &cmd.args[0];
        match first {
            Arg::Field(f) => return self.eval_field_node(dot, f, &cmd.args, last),
            Arg::Chain(c) => return self.eval_chain_node(dot, c, &cmd.args, last),
            Arg::Identifier { pos, name } => {
                return self.eval_function(dot, (*pos, first), name, (cmd.pos, cmd), &cmd.args, last);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &last)?;
                return self.eval_nested(dot, p);
            }
            Arg::Variable(v) => return self.eval_variable_node(dot, v, &cmd.args, last),
            _ => {}
        }
        self.at(first.pos(), first);
        self.not_a_function(&cmd.args, &last)?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.fail("nil is not a command"),
            Arg::Number(n) => self.ideal_constant(n),
            Arg::String { text, .. } => Ok(Value::from(text.as_str())),
            _ => self.fail(format!("can't evaluate command {}", quote(&first.to_string(), false))),
        }
    }

    fn eval_nested(&mut self, dot: &Value, pipe: &'t Pipe) -> Result<Value> {
        self.enter()?;
        let value = self.eval_pipeline(dot, pipe)?;
        self.depth -= 1;
        Ok(value)
    }

    fn ideal_constant(&mut self, n: &'t Number) -> Result<Value> {
        self.at(n.pos, n);
        match n.value {
            Constant::Int(i) => Ok(Value::Int(i)),
            Constant::Float(f) => Ok(Value::Float(f)),
            Constant::TooBig => self.fail(format!("{} overflows int", n.text)),
        }
    }

    fn eval_field_node(&mut self, dot: &Value, f: &'t Field, args: &'t [Arg], last: Option<Value>) -> Result<Value> {
        self.at(f.pos, f);
        self.eval_field_chain(dot, dot.clone(), (f.pos, f), &f.idents, args, last)
    }

    fn eval_chain_node(&mut self, dot: &Value, c: &'t Chain, args: &'t [Arg], last: Option<Value>) -> Result<Value> {
        self.at(c.pos, c);
        if let Arg::Nil { .. } = *c.node {
            return self.fail(format!("indirection through explicit nil in {c}"));
        }
        let receiver = self.eval_arg(dot, &c.node)?;
        self.eval_field_chain(dot, receiver, (c.pos, c), &c.fields, args, last)
    }

    fn eval_variable_node(&mut self, dot: &Value, v: &'t Var, args: &'t [Arg], last: Option<Value>) -> Result<Value> {
        self.at(v.pos, v);
        let value = self.var_value(&v.idents[0])?;
        if v.idents.len() == 1 {
            self.not_a_function(args, &last)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, (v.pos, v), &v.idents[1..], args, last)
    }

    /// `.X.Y.Z arg...`: all but the last field are plain lookups; the last may be a method taking the arguments.
    fn eval_field_chain(
        &mut self,
        dot: &Value,
        mut receiver: Value,
        node: At<'t>,
        idents: &'t [String],
        args: &'t [Arg],
        last: Option<Value>,
    ) -> Result<Value> {
        let (head, tail) = idents.split_at(idents.len() - 1);
        for ident in head {
            receiver = self.eval_field(dot, ident, node, &[], None, receiver)?;
        }
        self.eval_field(dot, &tail[0], node, args, last, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: At<'t>,
        args: &'t [Arg],
        last: Option<Value>,
        receiver: Value,
    ) -> Result<Value> {
        let has_args = args.len() > 1 || last.is_some();
        match &receiver {
            Value::Nil => {
                if self.tmpl.options.missing_key == MissingKey::Error {
                    return self.fail(format!("nil data; no entry for key {}", quote(name, false)));
                }
                Ok(Value::Nil)
            }
            Value::Object(o) => {
                if o.has_method(name) {
                    return self.eval_method(dot, o.clone(), name, node, args, last);
                }
                if let Some(Value::Map(m)) = o.underlying() {
                    return self.map_field(&m, name, has_args);
                }
                match o.field(name) {
                    Some(_) if has_args => self.fail(format!("{name} has arguments but cannot be invoked as function")),
                    Some(v) => Ok(v),
                    None => self.fail(format!("can't evaluate field {name} in type {}", o.type_name())),
                }
            }
            Value::Map(m) => self.map_field(m, name, has_args),
            _ => self.fail(format!("can't evaluate field {name} in type {}", receiver.type_name())),
        }
    }

    fn map_field(&self, m: &Map, name: &str, has_args: bool) -> Result<Value> {
        if has_args {
            return self.fail(format!("{name} is not a method but has arguments"));
        }
        match m.get(name) {
            Some(v) => Ok(v.clone()),
            None => match self.tmpl.options.missing_key {
                MissingKey::Default => Ok(Value::Nil),
                MissingKey::Zero => Ok(m.zero()),
                MissingKey::Error => self.fail(format!("map has no entry for key {}", quote(name, false))),
            },
        }
    }

    fn eval_args(&mut self, dot: &Value, args: &'t [Arg], last: Option<Value>) -> Result<Vec<Value>> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        for arg in args {
            argv.push(self.eval_arg(dot, arg)?);
        }
        argv.extend(last);
        Ok(argv)
    }

    fn eval_method(
        &mut self,
        dot: &Value,
        object: Arc<dyn Object>,
        name: &str,
        node: At<'t>,
        args: &'t [Arg],
        last: Option<Value>,
    ) -> Result<Value> {
        let argv = self.eval_args(dot, args.get(1..).unwrap_or_default(), last)?;
        let result = object.call_method(name, &argv);
        self.finish_call(name, node, result)
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        ident: At<'t>,
        name: &str,
        node: At<'t>,
        args: &'t [Arg],
        last: Option<Value>,
    ) -> Result<Value> {
        self.at(ident.0, ident.1);
        let tmpl = self.tmpl;
        let (function, builtin) = match tmpl.funcs.get(name) {
            Some(f) => (f, false),
            None => match builtins().get(name) {
                Some(f) => (f, true),
                None => return self.fail(format!("{} is not a defined function", quote(name, false))),
            },
        };
        let args = args.get(1..).unwrap_or_default();
        let count = args.len() + usize::from(last.is_some());
        match function.arity {
            crate::Arity::Exact(n) if count != n => {
                return self.fail(format!("wrong number of args for {name}: want {n} got {count}"));
            }
            crate::Arity::AtLeast(n) if count < n => {
                return self.fail(format!("wrong number of args for {name}: want at least {n} got {}", args.len()));
            }
            _ => {}
        }
        if builtin && (name == "and" || name == "or") {
            // Go's and/or stop at the first argument that decides the result.
            let decisive = name == "or";
            let mut value = Value::Nil;
            for arg in args {
                value = self.eval_arg(dot, arg)?;
                if value.truth() == decisive {
                    return Ok(value);
                }
            }
            return Ok(last.unwrap_or(value));
        }
        let argv = self.eval_args(dot, args, last)?;
        let result = {
            let mut call = Call {
                host: self.host,
                querier: self.querier,
                regexes: &mut self.regexes,
                options: &self.tmpl.options,
            };
            (function.body)(&mut call, &argv)
        };
        self.finish_call(name, node, result)
    }

    fn finish_call(
        &mut self,
        name: &str,
        node: At<'t>,
        result: std::result::Result<Value, FuncError>,
    ) -> Result<Value> {
        match result {
            Ok(value) => {
                let max = self.tmpl.options.max_output;
                if matches!(&value, Value::String(s) if s.len() > max) {
                    self.at(node.0, node.1);
                    return self.fail(format!("result of {name} exceeds the output limit of {max} bytes"));
                }
                Ok(value)
            }
            Err(FuncError::Failed(message)) => {
                self.at(node.0, node.1);
                self.fail(format!("error calling {name}: {message}"))
            }
            Err(FuncError::BadArgs(message)) => self.fail(message),
        }
    }

    /// An argument of a function or method.
    fn eval_arg(&mut self, dot: &Value, arg: &'t Arg) -> Result<Value> {
        self.at(arg.pos(), arg);
        match arg {
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Ok(Value::Nil),
            Arg::Field(f) => self.eval_field_node(dot, f, std::slice::from_ref(arg), None),
            Arg::Variable(v) => self.eval_variable_node(dot, v, &[], None),
            Arg::Pipe(p) => self.eval_nested(dot, p),
            Arg::Identifier { pos, name } => self.eval_function(dot, (*pos, arg), name, (*pos, arg), &[], None),
            Arg::Chain(c) => self.eval_chain_node(dot, c, &[], None),
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Number(n) => self.ideal_constant(n),
            Arg::String { text, .. } => Ok(Value::from(text.as_str())),
        }
    }
}
