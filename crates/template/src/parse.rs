//! The parser: Go's text/template grammar over the lexer's tokens, one tree per template (the text itself and
//! each `{{define}}` and `{{block}}`), checking functions and variables when parsing as Go does, with Go's
//! error messages.

use std::sync::Arc;

use crate::error::TemplateError;
use crate::funcs::builtin::builtins;
use crate::funcs::Functions;
use crate::lex::{lex, Item, Kind};
use crate::node::{Arg, Branch, Chain, Command, Constant, Field, Node, Number, Pipe, Tree, Var};
use crate::strconv::{parse_float, parse_int, parse_uint, quote, unquote, unquote_char};
use crate::Options;

type Result<T> = std::result::Result<T, TemplateError>;

/// Parses `text` under `name`. Returns the trees it defines, the text's own tree last, as Go adds them.
pub(crate) fn parse(name: &str, text: &str, funcs: &Functions, options: &Options) -> Result<Vec<Tree>> {
    let mut p = Parser {
        items: lex(text, !funcs.contains("break"), !funcs.contains("continue")),
        idx: 0,
        furthest: 0,
        text,
        shared_text: Arc::from(text),
        parse_name: Arc::from(name),
        funcs,
        options,
        vars: Vec::new(),
        range_depth: 0,
        depth: 0,
        action_line: 0,
        trees: Vec::new(),
    };
    p.vars = p.initial_vars();
    p.parse_root(name)?;
    Ok(p.trees)
}

/// What `action` found: a node, or the `{{end}}` or `{{else}}` closing a list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl std::fmt::Display for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parsed::Node(n) => write!(f, "{n}"),
            Parsed::End => f.write_str("{{end}}"),
            Parsed::Else => f.write_str("{{else}}"),
        }
    }
}

struct Parser<'a> {
    items: Vec<Item>,
    /// The next token to read; may run past the end, which keeps returning the last token.
    idx: usize,
    /// The furthest token read so far: Go reports parse errors at its line.
    furthest: usize,
    text: &'a str,
    shared_text: Arc<str>,
    parse_name: Arc<str>,
    funcs: &'a Functions,
    options: &'a Options,
    /// Variables in scope, innermost last.
    vars: Vec<String>,
    range_depth: usize,
    /// Nesting of control structures and parentheses, capped by `Options::max_depth`.
    depth: usize,
    /// Line of the action being parsed, for "unclosed action started at" messages; 0 outside actions.
    action_line: usize,
    trees: Vec<Tree>,
}

impl Parser<'_> {
    fn initial_vars(&self) -> Vec<String> {
        let mut vars = vec!["$".to_string()];
        vars.extend(self.options.variables.iter().cloned());
        vars
    }

    fn line(&self, pos: usize) -> usize {
        1 + self.text[..pos.min(self.text.len())].matches('\n').count()
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T> {
        let pos = self.items[self.furthest.min(self.items.len() - 1)].pos;
        Err(TemplateError::Parse {
            template: self.parse_name.to_string(),
            line: self.line(pos),
            message: message.into(),
        })
    }

    fn kind(&self, i: usize) -> Kind {
        self.items[i].kind
    }

    fn pos(&self, i: usize) -> usize {
        self.items[i].pos
    }

    fn next(&mut self) -> usize {
        let i = self.idx.min(self.items.len() - 1);
        self.idx += 1;
        self.furthest = self.furthest.max(i);
        i
    }

    fn backup(&mut self) {
        self.idx -= 1;
    }

    fn peek(&mut self) -> usize {
        let i = self.next();
        self.backup();
        i
    }

    fn next_non_space(&mut self) -> usize {
        loop {
            let i = self.next();
            if self.kind(i) != Kind::Space {
                return i;
            }
        }
    }

    fn peek_non_space(&mut self) -> usize {
        let i = self.next_non_space();
        self.backup();
        i
    }

    fn expect(&mut self, kind: Kind, context: &str) -> Result<usize> {
        let i = self.next_non_space();
        if self.kind(i) != kind {
            return self.unexpected(i, context);
        }
        Ok(i)
    }

    fn unexpected<T>(&self, i: usize, context: &str) -> Result<T> {
        let item = &self.items[i];
        if item.kind == Kind::Error {
            let line = self.line(item.pos);
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != line {
                extra = format!(" in action started at {}:{}", self.parse_name, self.action_line);
                if item.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{}{extra}", item.val));
        }
        self.error(format!("unexpected {item} in {context}"))
    }

    fn enter(&mut self, message: &str) -> Result<()> {
        if self.depth >= self.options.max_depth {
            return self.error(message);
        }
        self.depth += 1;
        Ok(())
    }

    /// Go's `Tree.add`, for the trees of one text: a second non-empty definition of a name is an error.
    fn add_tree(&mut self, name: String, root: Vec<Node>) -> Result<()> {
        let tree = Tree { name, parse_name: self.parse_name.clone(), text: self.shared_text.clone(), root };
        match self.trees.iter().position(|t| t.name == tree.name) {
            None => self.trees.push(tree),
            Some(i) if self.trees[i].is_empty() => self.trees[i] = tree,
            Some(_) if tree.is_empty() => {}
            Some(_) => {
                return self.error(format!("template: multiple definition of template {}", quote(&tree.name, false)))
            }
        }
        Ok(())
    }

    /// Runs `f` for the body of a new template (`define` or `block`): its own variables and no enclosing range.
    fn in_new_template<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let initial = self.initial_vars();
        let vars = std::mem::replace(&mut self.vars, initial);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let r = f(self);
        self.vars = vars;
        self.range_depth = range_depth;
        r
    }

    fn parse_root(&mut self, name: &str) -> Result<()> {
        let mut root = Vec::new();
        loop {
            let p = self.peek();
            if self.kind(p) == Kind::Eof {
                break;
            }
            if self.kind(p) == Kind::LeftDelim {
                let delim = self.idx;
                self.next();
                let t = self.next_non_space();
                if self.kind(t) == Kind::Define {
                    self.in_new_template(Self::definition)?;
                    continue;
                }
                self.idx = delim;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return self.error(format!("unexpected {other}")),
            }
        }
        self.add_tree(name.to_string(), root)
    }

    fn definition(&mut self) -> Result<()> {
        const CONTEXT: &str = "define clause";
        let t = self.next_non_space();
        if !matches!(self.kind(t), Kind::String | Kind::RawString) {
            return self.unexpected(t, CONTEXT);
        }
        let Some(name) = unquote(&self.items[t].val) else {
            return self.error("invalid syntax");
        };
        self.expect(Kind::RightDelim, CONTEXT)?;
        let (root, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return self.error(format!("unexpected {end} in {CONTEXT}"));
        }
        self.add_tree(name, root)
    }

    /// Nodes up to the `{{end}}` or `{{else}}` that closes them.
    fn item_list(&mut self) -> Result<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        loop {
            let p = self.peek_non_space();
            if self.kind(p) == Kind::Eof {
                return self.error("unexpected EOF");
            }
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
    }

    fn text_or_action(&mut self) -> Result<Parsed> {
        let t = self.next_non_space();
        match self.kind(t) {
            Kind::Text => Ok(Parsed::Node(Node::Text { pos: self.pos(t), text: self.items[t].val.clone() })),
            Kind::LeftDelim => {
                self.action_line = self.line(self.pos(t));
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => self.unexpected(t, "input"),
        }
    }

    fn action(&mut self) -> Result<Parsed> {
        let t = self.next_non_space();
        let pos = self.pos(t);
        match self.kind(t) {
            Kind::Block => return self.block_control().map(Parsed::Node),
            Kind::Break | Kind::Continue => {
                let word = if self.kind(t) == Kind::Break { "break" } else { "continue" };
                let close = self.next_non_space();
                if self.kind(close) != Kind::RightDelim {
                    return self.unexpected(close, &format!("{{{{{word}}}}}"));
                }
                if self.range_depth == 0 {
                    return self.error(format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                return Ok(Parsed::Node(if word == "break" { Node::Break { pos } } else { Node::Continue { pos } }));
            }
            Kind::Else => {
                let p = self.peek_non_space();
                if !matches!(self.kind(p), Kind::If | Kind::With) {
                    self.expect(Kind::RightDelim, "else")?;
                }
                return Ok(Parsed::Else);
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            Kind::If => return self.control("if").map(|b| Parsed::Node(Node::If(b))),
            Kind::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            Kind::With => return self.control("with").map(|b| Parsed::Node(Node::With(b))),
            Kind::Template => return self.template_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let p = self.peek();
        let pos = self.pos(p);
        Ok(Parsed::Node(Node::Action { pos, pipe: self.pipeline("command", Kind::RightDelim)? }))
    }

    /// `if`, `range` and `with`. Chains of `{{else if}}` (or `{{else with}}`) become one branch list rather
    /// than Go's nested nodes, which behave the same without nesting.
    fn control(&mut self, context: &str) -> Result<Branch> {
        let vars = self.vars.len();
        self.enter("max nesting depth exceeded")?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, mut next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let mut branch = Branch { pipe, list, else_ifs: Vec::new(), else_list: None };
        while let Parsed::Else = next {
            let chained = match context {
                "if" => Kind::If,
                "with" => Kind::With,
                _ => Kind::Eof,
            };
            let p = self.peek();
            if self.kind(p) == chained {
                self.next();
                let pipe = self.pipeline(context, Kind::RightDelim)?;
                let (list, n) = self.item_list()?;
                branch.else_ifs.push((pipe, list));
                next = n;
                continue;
            }
            let (list, n) = self.item_list()?;
            if !matches!(n, Parsed::End) {
                return self.error(format!("expected end; found {n}"));
            }
            branch.else_list = Some(list);
            break;
        }
        self.depth -= 1;
        self.vars.truncate(vars);
        Ok(branch)
    }

    fn template_name(&mut self, t: usize, context: &str) -> Result<String> {
        if !matches!(self.kind(t), Kind::String | Kind::RawString) {
            return self.unexpected(t, context);
        }
        match unquote(&self.items[t].val) {
            Some(name) => Ok(name),
            None => self.error("invalid syntax"),
        }
    }

    fn template_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "template clause";
        let t = self.next_non_space();
        let name = self.template_name(t, CONTEXT)?;
        let close = self.next_non_space();
        let pipe = if self.kind(close) != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template { pos: self.pos(t), name, pipe })
    }

    fn block_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "block clause";
        let t = self.next_non_space();
        let name = self.template_name(t, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        self.enter("max nesting depth exceeded")?;
        self.in_new_template(|p| {
            let (root, end) = p.item_list()?;
            if !matches!(end, Parsed::End) {
                return p.error(format!("unexpected {end} in {CONTEXT}"));
            }
            p.add_tree(name.clone(), root)
        })?;
        self.depth -= 1;
        Ok(Node::Template { pos: self.pos(t), name, pipe: Some(pipe) })
    }

    /// `declarations? command ('|' command)*` up to `end`.
    fn pipeline(&mut self, context: &str, end: Kind) -> Result<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe { pos: self.pos(start), is_assign: false, decl: Vec::new(), cmds: Vec::new() };
        loop {
            let v = self.peek_non_space();
            if self.kind(v) != Kind::Variable {
                break;
            }
            let before = self.idx;
            self.next();
            let n = self.peek_non_space();
            let var = Var { pos: self.pos(v), idents: vec![self.items[v].val.clone()] };
            match self.kind(n) {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = self.kind(n) == Kind::Assign;
                    self.next_non_space();
                    self.vars.push(var.idents[0].clone());
                    pipe.decl.push(var);
                    break;
                }
                Kind::Char if self.items[n].val == "," => {
                    self.next_non_space();
                    self.vars.push(var.idents[0].clone());
                    pipe.decl.push(var);
                    if context == "range" && pipe.decl.len() < 2 {
                        let p = self.peek_non_space();
                        if matches!(self.kind(p), Kind::Variable | Kind::RightDelim | Kind::RightParen) {
                            continue;
                        }
                        return self.error("range can only initialize variables");
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => {
                    self.idx = before;
                    break;
                }
            }
        }
        loop {
            let t = self.next_non_space();
            let kind = self.kind(t);
            if kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Result<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. } | Arg::Dot { .. } | Arg::Nil { .. } | Arg::Number(_) | Arg::String { .. }
            ) {
                return self.error(format!("non executable command in pipeline stage {}", i + 1));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command> {
        let p = self.peek_non_space();
        let mut cmd = Command { pos: self.pos(p), args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let t = self.next();
            match self.kind(t) {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(t, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.error("empty command");
        }
        Ok(cmd)
    }

    /// A term followed by any number of `.Field`s.
    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        let p = self.peek();
        if self.kind(p) != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.pos(p);
        let mut fields = Vec::new();
        while {
            let p = self.peek();
            self.kind(p) == Kind::Field
        } {
            let f = self.next();
            fields.push(self.items[f].val[1..].to_string());
        }
        // Go gives a field or variable extended this way the position of the first added field.
        Ok(Some(match node {
            Arg::Field(mut f) => {
                f.idents.extend(fields);
                Arg::Field(Field { pos, idents: f.idents })
            }
            Arg::Variable(mut v) => {
                v.idents.extend(fields);
                Arg::Variable(Var { pos, idents: v.idents })
            }
            Arg::Bool { .. } | Arg::String { .. } | Arg::Number(_) | Arg::Nil { .. } | Arg::Dot { .. } => {
                return self.error(format!("unexpected . after term {}", quote(&node.to_string(), false)));
            }
            node => Arg::Chain(Chain { pos, node: Box::new(node), fields }),
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let t = self.next_non_space();
        let pos = self.pos(t);
        let val = self.items[t].val.clone();
        Ok(Some(match self.kind(t) {
            Kind::Identifier => {
                if !self.funcs.contains(&val) && !builtins().contains(&val) {
                    return self.error(format!("function {} not defined", quote(&val, false)));
                }
                Arg::Identifier { pos, name: val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                if !self.vars.contains(&val) {
                    return self.error(format!("undefined variable {}", quote(&val, false)));
                }
                Arg::Variable(Var { pos, idents: vec![val] })
            }
            Kind::Field => Arg::Field(Field { pos, idents: vec![val[1..].to_string()] }),
            Kind::Bool => Arg::Bool { pos, value: val == "true" },
            kind @ (Kind::CharConstant | Kind::Complex | Kind::Number) => Arg::Number(self.number(pos, val, kind)?),
            Kind::LeftParen => {
                self.enter("max expression depth exceeded")?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            Kind::String | Kind::RawString => match unquote(&val) {
                Some(text) => Arg::String { pos, quoted: val, text },
                None => return self.error("invalid syntax"),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    /// Go's `newNumber` and the constant `idealConstant` makes of it where no type is expected.
    fn number(&self, pos: usize, text: String, kind: Kind) -> Result<Number> {
        if kind == Kind::CharConstant {
            let Some((c, tail)) = unquote_char(&text[1..], '\'') else {
                return self.error("invalid syntax");
            };
            if tail != "'" {
                return self.error(format!("malformed character constant: {text}"));
            }
            return Ok(Number { pos, value: Constant::Int(c.code().into()), text });
        }
        let imaginary = text.ends_with('i') && parse_float(&text[..text.len() - 1]).is_ok();
        if kind == Kind::Complex || imaginary {
            return self.error(format!("complex constants are not supported: {text}"));
        }
        let int = parse_int(&text);
        let uint = parse_uint(&text);
        let mut float = int.map(|i| i as f64).or(uint.map(|u| u as f64));
        if float.is_none() {
            if let Ok(f) = parse_float(&text) {
                if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                    return self.error(format!("integer overflow: {}", quote(&text, false)));
                }
                float = Some(f);
            }
        }
        let Some(f) = float else {
            return self.error(format!("illegal number syntax: {}", quote(&text, false)));
        };
        let b = text.as_bytes();
        let hex_int = b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') && !text.contains(['p', 'P']);
        let value = if !hex_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            Constant::Float(f)
        } else if let Some(i) = int {
            Constant::Int(i)
        } else {
            Constant::TooBig
        };
        Ok(Number { pos, text, value })
    }
}
