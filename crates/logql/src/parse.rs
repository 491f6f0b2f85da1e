//! The LogQL parser: tokens to an [`Expr`], by recursive descent with precedence climbing for binary
//! operators. Regexes, patterns and templates are compiled here once to report errors at parse time.

use vigil_model::{MatchOp, Matcher};

use crate::ast::*;
use crate::error::ParseError;
use crate::lex::{lex, Tok, Token};
use crate::pipeline;
use crate::units::{parse_bytes, parse_duration_ns, parse_duration_secs};

/// Deepest nesting of parentheses, aggregations and binary operators accepted.
const MAX_DEPTH: usize = 128;
/// Most binary operators in one query.
const MAX_BINARY_OPS: usize = 512;

/// Parses a LogQL query.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let tokens = lex(query)?;
    let mut p = Parser { tokens, pos: 0, depth: 0, binary_ops: 0 };
    let node = p.parse_binary(0)?;
    p.expect_eof()?;
    Ok(match node {
        Node::Log(l) => Expr::Log(l),
        Node::Metric(m) => Expr::Metric(m),
    })
}

/// Parses a pipeline without a selector (`| logfmt | level != "debug"`), as the agent's log sources take it,
/// and compiles it. Positions are within `text`; empty text is the pipeline that passes every line unchanged.
pub fn parse_pipeline(text: &str) -> Result<pipeline::Pipeline, ParseError> {
    let tokens = lex(text)?;
    let mut p = Parser { tokens, pos: 0, depth: 0, binary_ops: 0 };
    let (stages, _) = p.parse_pipeline(false)?;
    p.expect_eof()?;
    pipeline::Pipeline::new(&stages).map_err(ParseError::plain)
}

enum Node {
    Log(LogExpr),
    Metric(MetricExpr),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    binary_ops: usize,
}

fn is_label_op(t: &Tok) -> bool {
    matches!(t, Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre | Tok::Gt | Tok::Ge | Tok::Lt | Tok::Le | Tok::EqEq)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn peek_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == name)
    }

    fn advance(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn here(&self) -> (usize, usize) {
        let t = &self.tokens[self.pos.min(self.tokens.len() - 1)];
        (t.line, t.col)
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        let (line, col) = self.here();
        ParseError::at(line, col, message)
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        let got = self.peek().describe();
        if expecting.is_empty() {
            self.err(format!("syntax error: unexpected {got}"))
        } else {
            self.err(format!("syntax error: unexpected {got}, expecting {expecting}"))
        }
    }

    fn expect(&mut self, want: Tok, name: &str) -> Result<(), ParseError> {
        if *self.peek() == want {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected(name))
        }
    }

    fn expect_eof(&self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected("")),
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek() {
            Tok::Ident(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.peek() {
            Tok::Str(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.unexpected("STRING")),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("syntax error: query nesting is deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn parse_binary(&mut self, min_prec: u8) -> Result<Node, ParseError> {
        self.enter()?;
        let mut lhs = self.parse_unary()?;
        loop {
            let (op, prec) = match self.peek() {
                Tok::Ident(s) if s == "or" => (BinOp::Or, 1),
                Tok::Ident(s) if s == "and" => (BinOp::And, 2),
                Tok::Ident(s) if s == "unless" => (BinOp::Unless, 2),
                Tok::EqEq => (BinOp::Eq, 3),
                Tok::Neq => (BinOp::Ne, 3),
                Tok::Gt => (BinOp::Gt, 3),
                Tok::Ge => (BinOp::Ge, 3),
                Tok::Lt => (BinOp::Lt, 3),
                Tok::Le => (BinOp::Le, 3),
                Tok::Add => (BinOp::Add, 4),
                Tok::Sub => (BinOp::Sub, 4),
                Tok::Mul => (BinOp::Mul, 5),
                Tok::Div => (BinOp::Div, 5),
                Tok::Mod => (BinOp::Mod, 5),
                Tok::Pow => (BinOp::Pow, 6),
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            let (line, col) = self.here();
            self.advance();
            self.binary_ops += 1;
            if self.binary_ops > MAX_BINARY_OPS {
                return Err(ParseError::at(
                    line,
                    col,
                    format!("syntax error: more than {MAX_BINARY_OPS} binary operators"),
                ));
            }
            let return_bool = self.peek_ident("bool");
            if return_bool {
                if !op.is_comparison() {
                    return Err(self.err("bool modifier can only be used on comparison operators"));
                }
                self.advance();
            }
            let matching = self.parse_vector_matching()?;
            let next_min = if op == BinOp::Pow { prec } else { prec + 1 };
            let rhs = self.parse_binary(next_min)?;
            let (Node::Metric(l), Node::Metric(r)) = (lhs, rhs) else {
                return Err(ParseError::at(
                    line,
                    col,
                    "syntax error: binary operations need metric queries on both sides, not log queries",
                ));
            };
            let scalar = |e: &MetricExpr| matches!(e, MetricExpr::Number(_));
            if op.is_set() && (scalar(&l) || scalar(&r)) {
                return Err(ParseError::at(
                    line,
                    col,
                    format!("set operator {op:?} not allowed in binary scalar expression").to_lowercase(),
                ));
            }
            if op.is_comparison() && !return_bool && scalar(&l) && scalar(&r) {
                return Err(ParseError::at(line, col, "comparisons between scalars must use BOOL modifier"));
            }
            lhs = Node::Metric(MetricExpr::Binary { op, lhs: Box::new(l), rhs: Box::new(r), return_bool, matching });
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn parse_vector_matching(&mut self) -> Result<VectorMatching, ParseError> {
        let mut m = VectorMatching::default();
        if self.peek_ident("on") || self.peek_ident("ignoring") {
            m.on = self.peek_ident("on");
            self.advance();
            m.labels = self.parse_label_list()?;
            let side = if self.peek_ident("group_left") {
                Some(GroupSide::Left)
            } else if self.peek_ident("group_right") {
                Some(GroupSide::Right)
            } else {
                None
            };
            if let Some(side) = side {
                self.advance();
                let include = if *self.peek() == Tok::LParen { self.parse_label_list()? } else { Vec::new() };
                m.group = Some((side, include));
            }
        }
        Ok(m)
    }

    /// `(a, b, c)`, possibly empty.
    fn parse_label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect(Tok::LParen, "(")?;
        let mut out = Vec::new();
        while *self.peek() != Tok::RParen {
            out.push(self.ident("IDENTIFIER")?);
            if *self.peek() == Tok::Comma {
                self.advance();
            } else if *self.peek() != Tok::RParen {
                return Err(self.unexpected(", or )"));
            }
        }
        self.advance();
        Ok(out)
    }

    fn parse_unary(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let node = match self.peek().clone() {
            Tok::Sub | Tok::Add => {
                let negate = *self.peek() == Tok::Sub;
                self.advance();
                match self.parse_unary()? {
                    Node::Metric(MetricExpr::Number(n)) => {
                        Node::Metric(MetricExpr::Number(if negate { -n } else { n }))
                    }
                    Node::Metric(e) if negate => Node::Metric(MetricExpr::Binary {
                        op: BinOp::Mul,
                        lhs: Box::new(MetricExpr::Number(-1.0)),
                        rhs: Box::new(e),
                        return_bool: false,
                        matching: VectorMatching::default(),
                    }),
                    Node::Metric(e) => Node::Metric(e),
                    Node::Log(_) => return Err(self.err("syntax error: unary operators need a metric query")),
                }
            }
            Tok::Num(s) => {
                let n = parse_number(&s).ok_or_else(|| self.unexpected(""))?;
                self.advance();
                Node::Metric(MetricExpr::Number(n))
            }
            Tok::LParen => {
                self.advance();
                let inner = self.parse_binary(0)?;
                self.expect(Tok::RParen, ")")?;
                inner
            }
            Tok::LBrace => {
                let (log, unwrap) = self.parse_log_expr(false)?;
                debug_assert!(unwrap.is_none());
                Node::Log(log)
            }
            Tok::Ident(name) => {
                if let Some(op) = RangeOp::from_name(&name) {
                    self.advance();
                    Node::Metric(self.parse_range_agg(op, &name)?)
                } else if let Some(op) = VectorOp::from_name(&name) {
                    self.advance();
                    Node::Metric(self.parse_vector_agg(op)?)
                } else if name == "vector" {
                    self.advance();
                    self.expect(Tok::LParen, "(")?;
                    let n = self.parse_signed_number()?;
                    self.expect(Tok::RParen, ")")?;
                    Node::Metric(MetricExpr::Vector1(n))
                } else if matches!(name.as_str(), "label_replace" | "rate_counter" | "approx_topk") {
                    return Err(self.err(format!("{name} is not supported")));
                } else {
                    return Err(self.unexpected(""));
                }
            }
            _ => return Err(self.unexpected("")),
        };
        self.depth -= 1;
        Ok(node)
    }

    fn parse_signed_number(&mut self) -> Result<f64, ParseError> {
        let negate = *self.peek() == Tok::Sub;
        if negate {
            self.advance();
        }
        match self.peek().clone() {
            Tok::Num(s) => {
                let n = parse_number(&s).ok_or_else(|| self.unexpected("NUMBER"))?;
                self.advance();
                Ok(if negate { -n } else { n })
            }
            _ => Err(self.unexpected("NUMBER")),
        }
    }

    fn parse_grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        if self.peek_ident("by") || self.peek_ident("without") {
            let without = self.peek_ident("without");
            self.advance();
            let labels = self.parse_label_list()?;
            return Ok(Some(Grouping { without, labels }));
        }
        Ok(None)
    }

    fn parse_range_agg(&mut self, op: RangeOp, name: &str) -> Result<MetricExpr, ParseError> {
        let (line, col) = self.here();
        self.expect(Tok::LParen, "(")?;
        let param = if op == RangeOp::QuantileOverTime {
            let q = self.parse_signed_number()?;
            self.expect(Tok::Comma, ",")?;
            Some(q)
        } else {
            None
        };
        let range = self.parse_log_range()?;
        self.expect(Tok::RParen, ")")?;
        let grouping = self.parse_grouping()?;
        let at = |m: String| ParseError::at(line, col, m);
        match (&range.unwrap, op.needs_unwrap()) {
            (None, true) => return Err(at(format!("invalid aggregation {name} without unwrap"))),
            (Some(_), false) if op != RangeOp::Rate => {
                return Err(at(format!("invalid aggregation {name} with unwrap")));
            }
            _ => {}
        }
        if grouping.is_some() && range.unwrap.is_none() {
            return Err(at(format!("grouping not allowed for {name} aggregation")));
        }
        Ok(MetricExpr::Range { op, param, range: Box::new(range), grouping })
    }

    fn parse_log_range(&mut self) -> Result<LogRange, ParseError> {
        let (log, unwrap, range_ns) = if *self.peek() == Tok::LParen {
            self.advance();
            let (log, unwrap) = self.parse_log_expr(true)?;
            self.expect(Tok::RParen, ")")?;
            let range = self.parse_range()?;
            (log, unwrap, range)
        } else if *self.peek() != Tok::LBrace {
            return Err(self.unexpected("{"));
        } else if matches!(self.peek_at(0), Tok::LBrace) && self.selector_then_range() {
            let matchers = self.parse_selector()?;
            let range = self.parse_range()?;
            let offset = self.parse_offset()?;
            let (stages, unwrap) = self.parse_pipeline(true)?;
            return Ok(LogRange { log: LogExpr { matchers, stages }, range_ns: range, offset_ns: offset, unwrap });
        } else {
            let (log, unwrap) = self.parse_log_expr(true)?;
            let range = self.parse_range()?;
            (log, unwrap, range)
        };
        let offset_ns = self.parse_offset()?;
        Ok(LogRange { log, range_ns, offset_ns, unwrap })
    }

    /// Whether the selector at the cursor is directly followed by `[`.
    fn selector_then_range(&self) -> bool {
        let mut i = self.pos;
        while i < self.tokens.len() && self.tokens[i].tok != Tok::RBrace {
            i += 1;
        }
        self.tokens.get(i + 1).is_some_and(|t| t.tok == Tok::LBrack)
    }

    fn parse_range(&mut self) -> Result<i64, ParseError> {
        self.expect(Tok::LBrack, "[")?;
        let ns = match self.peek().clone() {
            Tok::Num(s) => parse_duration_ns(&s)
                .filter(|ns| *ns > 0)
                .ok_or_else(|| self.err(format!("syntax error: invalid range {s:?}")))?,
            _ => return Err(self.unexpected("DURATION")),
        };
        self.advance();
        self.expect(Tok::RBrack, "]")?;
        Ok(ns)
    }

    fn parse_offset(&mut self) -> Result<i64, ParseError> {
        if !self.peek_ident("offset") {
            return Ok(0);
        }
        self.advance();
        let negate = *self.peek() == Tok::Sub;
        if negate {
            self.advance();
        }
        match self.peek().clone() {
            Tok::Num(s) => {
                let ns =
                    parse_duration_ns(&s).ok_or_else(|| self.err(format!("syntax error: invalid offset {s:?}")))?;
                self.advance();
                Ok(if negate { -ns } else { ns })
            }
            _ => Err(self.unexpected("DURATION")),
        }
    }

    fn parse_vector_agg(&mut self, op: VectorOp) -> Result<MetricExpr, ParseError> {
        let mut grouping = self.parse_grouping()?;
        self.expect(Tok::LParen, "(")?;
        let param = if matches!(op, VectorOp::Topk | VectorOp::Bottomk) {
            let (line, col) = self.here();
            let k = self.parse_signed_number()?;
            if k < 1.0 || k.fract() != 0.0 || k > i32::MAX as f64 {
                return Err(ParseError::at(
                    line,
                    col,
                    format!("invalid parameter {k} for topk/bottomk: must be a positive integer"),
                ));
            }
            self.expect(Tok::Comma, ",")?;
            Some(k)
        } else {
            None
        };
        let (line, col) = self.here();
        let inner = match self.parse_binary(0)? {
            Node::Metric(m) => m,
            Node::Log(_) => {
                return Err(ParseError::at(
                    line,
                    col,
                    "syntax error: vector aggregations need a metric query, not a log query",
                ))
            }
        };
        self.expect(Tok::RParen, ")")?;
        if grouping.is_none() {
            grouping = self.parse_grouping()?;
        }
        Ok(MetricExpr::Vector { op, param, expr: Box::new(inner), grouping })
    }

    fn parse_selector(&mut self) -> Result<Vec<Matcher>, ParseError> {
        let (line, col) = self.here();
        self.expect(Tok::LBrace, "{")?;
        let mut matchers = Vec::new();
        while *self.peek() != Tok::RBrace {
            let name = self.ident("IDENTIFIER")?;
            let op = match self.advance() {
                Tok::Eq => MatchOp::Equal,
                Tok::Neq => MatchOp::NotEqual,
                Tok::Re => MatchOp::Regex,
                Tok::Nre => MatchOp::NotRegex,
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("=, !=, =~ or !~"));
                }
            };
            let (vl, vc) = self.here();
            let value = self.string()?;
            matchers.push(Matcher::new(op, name, value).map_err(|e| ParseError::at(vl, vc, e.to_string()))?);
            match self.peek() {
                Tok::Comma => {
                    self.advance();
                }
                Tok::RBrace => {}
                _ => return Err(self.unexpected(", or }")),
            }
        }
        self.advance();
        if matchers.is_empty() {
            return Err(ParseError::at(line, col, "syntax error: unexpected }"));
        }
        if matchers.iter().all(|m| m.matches_empty()) {
            return Err(ParseError::plain(
                "queries require at least one regexp or equality matcher that does not have an empty-compatible \
                 value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will",
            ));
        }
        Ok(matchers)
    }

    fn parse_log_expr(&mut self, allow_unwrap: bool) -> Result<(LogExpr, Option<Unwrap>), ParseError> {
        if *self.peek() == Tok::LParen {
            self.enter()?;
            self.advance();
            let inner = self.parse_log_expr(allow_unwrap)?;
            self.expect(Tok::RParen, ")")?;
            self.depth -= 1;
            return Ok(inner);
        }
        let matchers = self.parse_selector()?;
        let (stages, unwrap) = self.parse_pipeline(allow_unwrap)?;
        Ok((LogExpr { matchers, stages }, unwrap))
    }

    fn parse_pipeline(&mut self, allow_unwrap: bool) -> Result<(Vec<Stage>, Option<Unwrap>), ParseError> {
        let mut stages = Vec::new();
        let mut unwrap: Option<Unwrap> = None;
        loop {
            let op = match self.peek() {
                Tok::PipeEq => Some(LineFilterOp::Contains),
                Tok::Neq => Some(LineFilterOp::NotContains),
                Tok::PipeRe => Some(LineFilterOp::Match),
                Tok::Nre => Some(LineFilterOp::NotMatch),
                Tok::Pipe => None,
                _ => break,
            };
            let (line, col) = self.here();
            self.advance();
            if let Some(op) = op {
                if unwrap.is_some() {
                    return Err(ParseError::at(line, col, "syntax error: only label filters may follow unwrap"));
                }
                stages.push(Stage::LineFilter(self.parse_line_filter(op)?));
                continue;
            }
            if unwrap.is_some() {
                let filter = self.parse_label_filter_or()?;
                if let Some(u) = unwrap.as_mut() {
                    u.post_filters.push(filter);
                }
                continue;
            }
            let is_filter = matches!(self.peek(), Tok::LParen)
                || (matches!(self.peek(), Tok::Ident(_)) && is_label_op(self.peek_at(1)));
            if is_filter {
                stages.push(Stage::LabelFilter(self.parse_label_filter_or()?));
                continue;
            }
            let (line, col) = self.here();
            let at = |m: String| ParseError::at(line, col, m);
            let name = self.ident("IDENTIFIER")?;
            let stage = match name.as_str() {
                "json" => Stage::Json(self.parse_extractions()?),
                "logfmt" => {
                    let (mut strict, mut keep_empty) = (false, false);
                    while let Tok::Flag(f) = self.peek().clone() {
                        match f.as_str() {
                            "strict" => strict = true,
                            "keep-empty" => keep_empty = true,
                            _ => return Err(self.err(format!("syntax error: unknown logfmt flag --{f}"))),
                        }
                        self.advance();
                    }
                    Stage::Logfmt { strict, keep_empty, fields: self.parse_extractions()? }
                }
                "regexp" => {
                    let re = self.string()?;
                    pipeline::compile_regexp_stage(&re).map_err(at)?;
                    Stage::Regexp(re)
                }
                "pattern" => {
                    let pattern = self.string()?;
                    pipeline::pattern::Pattern::parse(&pattern).map_err(at)?;
                    Stage::Pattern(pattern)
                }
                "unpack" => Stage::Unpack,
                "decolorize" => Stage::Decolorize,
                "line_format" => {
                    let text = self.string()?;
                    pipeline::format::compile(&text).map_err(|e| at(format!("invalid line template: {e}")))?;
                    Stage::LineFormat(text)
                }
                "label_format" => Stage::LabelFormat(self.parse_label_format()?),
                "drop" => Stage::Drop(self.parse_label_selections()?),
                "keep" => Stage::Keep(self.parse_label_selections()?),
                "unwrap" if allow_unwrap => {
                    unwrap = Some(self.parse_unwrap()?);
                    continue;
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected(""));
                }
            };
            stages.push(stage);
        }
        Ok((stages, unwrap))
    }

    fn parse_line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, ParseError> {
        let mut values = Vec::new();
        loop {
            let (line, col) = self.here();
            if self.peek_ident("ip") {
                return Err(self.err("ip() line filters are not supported"));
            }
            let v = self.string()?;
            if matches!(op, LineFilterOp::Match | LineFilterOp::NotMatch) {
                pipeline::compile_line_regex(&v).map_err(|e| ParseError::at(line, col, e))?;
            }
            values.push(v);
            if self.peek_ident("or") && matches!(self.peek_at(1), Tok::Str(_)) {
                self.advance();
                continue;
            }
            break;
        }
        Ok(LineFilter { op, values })
    }

    /// `name="path", other, ...` after `json` or `logfmt`.
    fn parse_extractions(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut out = Vec::new();
        while let Tok::Ident(name) = self.peek().clone() {
            if !matches!(
                self.peek_at(1),
                Tok::Eq
                    | Tok::Comma
                    | Tok::Pipe
                    | Tok::PipeEq
                    | Tok::PipeRe
                    | Tok::Neq
                    | Tok::Nre
                    | Tok::RParen
                    | Tok::LBrack
                    | Tok::Eof
            ) {
                break;
            }
            self.advance();
            let path = if *self.peek() == Tok::Eq {
                self.advance();
                let (line, col) = self.here();
                let path = self.string()?;
                pipeline::json::JsonPath::parse(&path).map_err(|e| ParseError::at(line, col, e))?;
                path
            } else {
                name.clone()
            };
            out.push((name, path));
            if *self.peek() != Tok::Comma {
                break;
            }
            self.advance();
        }
        Ok(out)
    }

    fn parse_label_format(&mut self) -> Result<Vec<LabelFmt>, ParseError> {
        let mut out: Vec<LabelFmt> = Vec::new();
        loop {
            let (line, col) = self.here();
            let dst = self.ident("IDENTIFIER")?;
            self.expect(Tok::Eq, "=")?;
            let fmt = match self.peek().clone() {
                Tok::Ident(src) => {
                    self.advance();
                    LabelFmt::Rename { dst: dst.clone(), src }
                }
                Tok::Str(template) => {
                    let (tl, tc) = self.here();
                    self.advance();
                    pipeline::format::compile(&template)
                        .map_err(|e| ParseError::at(tl, tc, format!("invalid template for label '{dst}': {e}")))?;
                    LabelFmt::Template { dst: dst.clone(), template }
                }
                _ => return Err(self.unexpected("IDENTIFIER or STRING")),
            };
            let dst_of = |f: &LabelFmt| match f {
                LabelFmt::Rename { dst, .. } | LabelFmt::Template { dst, .. } => dst.clone(),
            };
            if dst == pipeline::ERROR {
                return Err(ParseError::at(line, col, format!("{dst} cannot be formatted")));
            }
            if out.iter().any(|f| dst_of(f) == dst) {
                return Err(ParseError::at(
                    line,
                    col,
                    format!("multiple label name '{dst}' not allowed in a single format operation"),
                ));
            }
            out.push(fmt);
            if *self.peek() != Tok::Comma {
                break;
            }
            self.advance();
        }
        Ok(out)
    }

    fn parse_label_selections(&mut self) -> Result<Vec<LabelSel>, ParseError> {
        let mut out = Vec::new();
        loop {
            let name = self.ident("IDENTIFIER")?;
            let op = match self.peek() {
                Tok::Eq => Some(MatchOp::Equal),
                Tok::Neq => Some(MatchOp::NotEqual),
                Tok::Re => Some(MatchOp::Regex),
                Tok::Nre => Some(MatchOp::NotRegex),
                _ => None,
            };
            let matcher = match op {
                Some(op) => {
                    self.advance();
                    let (line, col) = self.here();
                    let v = self.string()?;
                    Some(Matcher::new(op, name.clone(), v).map_err(|e| ParseError::at(line, col, e.to_string()))?)
                }
                None => None,
            };
            out.push(LabelSel { name, matcher });
            if *self.peek() != Tok::Comma {
                break;
            }
            self.advance();
        }
        Ok(out)
    }

    fn parse_unwrap(&mut self) -> Result<Unwrap, ParseError> {
        let name = self.ident("IDENTIFIER")?;
        let conversion = match name.as_str() {
            "duration" | "duration_seconds" if *self.peek() == Tok::LParen => Some(Conversion::Duration),
            "bytes" if *self.peek() == Tok::LParen => Some(Conversion::Bytes),
            _ => None,
        };
        match conversion {
            Some(conversion) => {
                self.advance();
                let label = self.ident("IDENTIFIER")?;
                self.expect(Tok::RParen, ")")?;
                Ok(Unwrap { label, conversion, post_filters: Vec::new() })
            }
            None => Ok(Unwrap { label: name, conversion: Conversion::Float, post_filters: Vec::new() }),
        }
    }

    fn parse_label_filter_or(&mut self) -> Result<LabelFilter, ParseError> {
        self.enter()?;
        let mut lhs = self.parse_label_filter_and()?;
        while self.peek_ident("or") && self.label_filter_follows(1) {
            self.advance();
            let rhs = self.parse_label_filter_and()?;
            lhs = LabelFilter::Or(Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// Whether a label filter starts `n` tokens ahead.
    fn label_filter_follows(&self, n: usize) -> bool {
        matches!(self.peek_at(n), Tok::LParen)
            || (matches!(self.peek_at(n), Tok::Ident(_)) && is_label_op(self.peek_at(n + 1)))
    }

    fn parse_label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut lhs = self.parse_label_filter_primary()?;
        while (self.peek_ident("and") || *self.peek() == Tok::Comma) && self.label_filter_follows(1) {
            self.advance();
            let rhs = self.parse_label_filter_primary()?;
            lhs = LabelFilter::And(Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn parse_label_filter_primary(&mut self) -> Result<LabelFilter, ParseError> {
        if *self.peek() == Tok::LParen {
            self.advance();
            let inner = self.parse_label_filter_or()?;
            self.expect(Tok::RParen, ")")?;
            return Ok(inner);
        }
        let name = self.ident("IDENTIFIER")?;
        let op_tok = self.advance();
        if let Tok::Str(_) = self.peek() {
            let op = match op_tok {
                Tok::Eq => MatchOp::Equal,
                Tok::Neq => MatchOp::NotEqual,
                Tok::Re => MatchOp::Regex,
                Tok::Nre => MatchOp::NotRegex,
                _ => return Err(self.unexpected("NUMBER")),
            };
            let (line, col) = self.here();
            let v = self.string()?;
            let m = Matcher::new(op, name, v).map_err(|e| ParseError::at(line, col, e.to_string()))?;
            return Ok(LabelFilter::String(m));
        }
        if self.peek_ident("ip") {
            return Err(self.err("ip() label filters are not supported"));
        }
        let op = match op_tok {
            Tok::Eq | Tok::EqEq => CmpOp::Eq,
            Tok::Neq => CmpOp::Ne,
            Tok::Gt => CmpOp::Gt,
            Tok::Ge => CmpOp::Ge,
            Tok::Lt => CmpOp::Lt,
            Tok::Le => CmpOp::Le,
            _ => return Err(self.unexpected("STRING")),
        };
        let negate = *self.peek() == Tok::Sub;
        if negate {
            self.advance();
        }
        let Tok::Num(text) = self.peek().clone() else {
            return Err(self.unexpected("NUMBER, DURATION or BYTES"));
        };
        let (conversion, value) = if let Some(n) = parse_number(&text) {
            (Conversion::Float, n)
        } else if let Some(d) = parse_duration_secs(&text) {
            (Conversion::Duration, d)
        } else if let Some(b) = parse_bytes(&text) {
            (Conversion::Bytes, b)
        } else {
            return Err(self.err(format!("syntax error: unexpected {text:?}, expecting NUMBER, DURATION or BYTES")));
        };
        self.advance();
        Ok(LabelFilter::Number { name, op, conversion, value: if negate { -value } else { value } })
    }
}

/// A plain number: decimal or float notation, or Go's hexadecimal.
fn parse_number(s: &str) -> Option<f64> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse().ok()
}
