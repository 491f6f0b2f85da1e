//! The parse tree of a template, and its text form as Go prints it, which execution errors quote
//! (`executing "x" at <.Labels.job>`).

use std::fmt;
use std::sync::Arc;

/// One parsed template: the text of a file, or a `{{define}}` or `{{block}}` within it.
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: String,
    /// The name the whole text was parsed under; error locations use it.
    pub parse_name: Arc<str>,
    /// The whole text, to turn node positions into lines and columns.
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// Go's `IsEmptyTree`: only whitespace text (comments are already gone).
    pub fn is_empty(&self) -> bool {
        self.root.iter().all(|n| matches!(n, Node::Text { text, .. } if text.trim().is_empty()))
    }
}

#[derive(Debug)]
pub(crate) enum Node {
    Text { pos: usize, text: String },
    Action { pos: usize, pipe: Pipe },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template { pos: usize, name: String, pipe: Option<Pipe> },
    Break { pos: usize },
    Continue { pos: usize },
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text { pos, .. }
            | Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pipe.pos,
        }
    }
}

/// The parts of `if`, `range` and `with`. `{{else if}}` (or `{{else with}}`) branches are kept in order in
/// `else_ifs` rather than nested as Go does; they behave the same.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_ifs: Vec<(Pipe, Vec<Node>)>,
    pub else_list: Option<Vec<Node>>,
}

/// `$x := cmd | cmd ...`.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    /// `=` rather than `:=`.
    pub is_assign: bool,
    pub decl: Vec<Var>,
    pub cmds: Vec<Command>,
}

/// A function or method call, or a single operand: words separated by spaces.
#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// `$x` or `$x.Field.Field`: the first ident includes the `$`.
#[derive(Debug)]
pub(crate) struct Var {
    pub pos: usize,
    pub idents: Vec<String>,
}

/// `.Field.Field`.
#[derive(Debug)]
pub(crate) struct Field {
    pub pos: usize,
    pub idents: Vec<String>,
}

/// `(pipeline).Field` or `func.Field`.
#[derive(Debug)]
pub(crate) struct Chain {
    pub pos: usize,
    pub node: Box<Arg>,
    pub fields: Vec<String>,
}

/// A number literal and the value it takes where no type is expected (Go's ideal constant).
#[derive(Debug)]
pub(crate) struct Number {
    pub pos: usize,
    pub text: String,
    pub value: Constant,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Constant {
    Int(i64),
    Float(f64),
    /// Fits a uint64 but not an int: an error when evaluated, as in Go.
    TooBig,
}

/// An operand of a command.
#[derive(Debug)]
pub(crate) enum Arg {
    Field(Field),
    Variable(Var),
    Chain(Chain),
    Identifier { pos: usize, name: String },
    Dot { pos: usize },
    Nil { pos: usize },
    Bool { pos: usize, value: bool },
    Number(Number),
    String { pos: usize, quoted: String, text: String },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field(f) => f.pos,
            Arg::Variable(v) => v.pos,
            Arg::Chain(c) => c.pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. } => *pos,
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    list.iter().try_for_each(|n| write!(f, "{n}"))
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printed nested, as Go's tree is.
        let branch = |f: &mut fmt::Formatter<'_>, word: &str, b: &Branch| {
            write!(f, "{{{{{word} {}}}}}", b.pipe)?;
            write_list(f, &b.list)?;
            for (pipe, list) in &b.else_ifs {
                write!(f, "{{{{else}}}}{{{{{word} {pipe}}}}}")?;
                write_list(f, list)?;
            }
            if let Some(e) = &b.else_list {
                f.write_str("{{else}}")?;
                write_list(f, e)?;
            }
            for _ in &b.else_ifs {
                f.write_str("{{end}}")?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template { name, pipe: None, .. } => {
                write!(f, "{{{{template {}}}}}", crate::strconv::quote(name, false))
            }
            Node::Template { name, pipe: Some(p), .. } => {
                write!(f, "{{{{template {} {p}}}}}", crate::strconv::quote(name, false))
            }
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
        }
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.decl.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        if !self.decl.is_empty() {
            f.write_str(" := ")?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match a {
                Arg::Pipe(p) => write!(f, "({p})")?,
                a => write!(f, "{a}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.idents.join("."))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.idents.iter().try_for_each(|i| write!(f, ".{i}"))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.node.as_ref() {
            Arg::Pipe(p) => write!(f, "({p})")?,
            a => write!(f, "{a}")?,
        }
        self.fields.iter().try_for_each(|i| write!(f, ".{i}"))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field(x) => write!(f, "{x}"),
            Arg::Variable(x) => write!(f, "{x}"),
            Arg::Chain(x) => write!(f, "{x}"),
            Arg::Number(x) => write!(f, "{x}"),
            Arg::Pipe(p) => write!(f, "{p}"),
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::String { quoted, .. } => f.write_str(quoted),
        }
    }
}
