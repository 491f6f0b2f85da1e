//! The lexer: splits template text into text runs and the tokens inside `{{ }}` actions, applying `{{-` and `-}}`
//! trimming and dropping comments, with Go's token kinds and error messages.

/// Token kinds, as Go's lexer has them. Keywords come after `Keyword` so that they print as `<keyword>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    Keyword,
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub kind: Kind,
    /// Byte offset of the token in the text.
    pub pos: usize,
    /// The token's text, or for errors the message.
    pub val: String,
}

impl std::fmt::Display for Item {
    /// How the parser quotes a token in `unexpected X in Y`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            k if k > Kind::Keyword => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", crate::strconv::quote(&head, false))
            }
            _ => f.write_str(&crate::strconv::quote(&self.val, false)),
        }
    }
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

#[derive(Clone, Copy)]
enum State {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
    Done,
}

/// Lexes the whole text; the last item is `Eof` or `Error`. `break` and `continue` are keywords unless the
/// function table defines functions of those names, as in Go.
pub(crate) fn lex(input: &str, break_ok: bool, continue_ok: bool) -> Vec<Item> {
    let mut l = Lexer { input, pos: 0, start: 0, paren_depth: 0, items: Vec::new(), break_ok, continue_ok };
    let mut state = State::Text;
    loop {
        state = match state {
            State::Text => l.text(),
            State::LeftDelim => l.left_delim(),
            State::Comment => l.comment(),
            State::RightDelim => l.right_delim(),
            State::InsideAction => l.inside_action(),
            State::Space => l.space(),
            State::Identifier => l.identifier(),
            State::Field => l.field_or_variable(Kind::Field),
            State::Variable => l.variable(),
            State::Char => l.char_constant(),
            State::Number => l.number(),
            State::Quote => l.quote(),
            State::RawQuote => l.raw_quote(),
            State::Done => return l.items,
        };
    }
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    items: Vec<Item>,
    break_ok: bool,
    continue_ok: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

/// Go's `%#U`: `U+00E9 'é'`, without the quoted character when it is not printable.
fn unicode_name(c: char) -> String {
    if crate::strconv::is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
        }
    }

    fn emit(&mut self, kind: Kind) {
        self.items.push(Item { kind, pos: self.start, val: self.input[self.start..self.pos].to_string() });
        self.start = self.pos;
    }

    fn error(&mut self, message: String) -> State {
        self.items.push(Item { kind: Kind::Error, pos: self.start, val: message });
        State::Done
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest[2..].starts_with(RIGHT) {
            return (true, true);
        }
        (rest.starts_with(RIGHT), false)
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) || matches!(c, '.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with(RIGHT),
        }
    }

    fn text(&mut self) -> State {
        match self.rest().find(LEFT) {
            Some(x) => {
                if x > 0 {
                    self.pos += x;
                    let mut end = self.pos;
                    if has_left_trim_marker(&self.input[self.pos + LEFT.len()..]) {
                        end = self.start + self.input[self.start..self.pos].trim_end_matches(is_space).len();
                    }
                    if end > self.start {
                        let val = self.input[self.start..end].to_string();
                        self.items.push(Item { kind: Kind::Text, pos: self.start, val });
                    }
                    self.start = self.pos;
                }
                State::LeftDelim
            }
            None => {
                self.pos = self.input.len();
                if self.pos > self.start {
                    self.emit(Kind::Text);
                }
                self.emit(Kind::Eof);
                State::Done
            }
        }
    }

    fn left_delim(&mut self) -> State {
        self.pos += LEFT.len();
        let after_marker = if has_left_trim_marker(self.rest()) { 2 } else { 0 };
        if self.rest()[after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.start = self.pos;
            return State::Comment;
        }
        self.emit(Kind::LeftDelim);
        self.pos += after_marker;
        self.start = self.pos;
        self.paren_depth = 0;
        State::InsideAction
    }

    fn comment(&mut self) -> State {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            return self.error("unclosed comment".into());
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            self.pos += self.rest().len() - self.rest().trim_start_matches(is_space).len();
        }
        self.start = self.pos;
        State::Text
    }

    fn right_delim(&mut self) -> State {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.start = self.pos;
        }
        self.pos += RIGHT.len();
        self.emit(Kind::RightDelim);
        if trim {
            self.pos += self.rest().len() - self.rest().trim_start_matches(is_space).len();
            self.start = self.pos;
        }
        State::Text
    }

    fn inside_action(&mut self) -> State {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return State::RightDelim;
            }
            return self.error("unclosed left paren".into());
        }
        let Some(c) = self.next() else {
            return self.error("unclosed action".into());
        };
        match c {
            c if is_space(c) => {
                self.backup(Some(c));
                return State::Space;
            }
            '=' => self.emit(Kind::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Kind::Declare);
            }
            '|' => self.emit(Kind::Pipe),
            '"' => return State::Quote,
            '`' => return State::RawQuote,
            '$' => return State::Variable,
            '\'' => return State::Char,
            '.' if self.peek().is_some_and(|c| !c.is_ascii_digit()) => return State::Field,
            '.' | '+' | '-' | '0'..='9' => {
                self.backup(Some(c));
                return State::Number;
            }
            c if is_alphanumeric(c) => {
                self.backup(Some(c));
                return State::Identifier;
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error("unexpected right paren".into());
                }
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
            c => return self.error(format!("unrecognized character in action: {}", unicode_name(c))),
        }
        State::InsideAction
    }

    fn space(&mut self) -> State {
        let mut spaces = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            spaces += 1;
        }
        // A trim-marked closing delimiter starts with a space: leave that space to the delimiter.
        let from_last = &self.input[self.pos - 1..];
        if has_right_trim_marker(from_last) && from_last[2..].starts_with(RIGHT) {
            self.pos -= 1;
            if spaces == 1 {
                return State::RightDelim;
            }
        }
        self.emit(Kind::Space);
        State::InsideAction
    }

    fn identifier(&mut self) -> State {
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            return self.error(format!("bad character {}", unicode_name(c)));
        }
        let word = &self.input[self.start..self.pos];
        let kind = match word {
            "block" => Kind::Block,
            "break" if self.break_ok => Kind::Break,
            "continue" if self.continue_ok => Kind::Continue,
            "define" => Kind::Define,
            "else" => Kind::Else,
            "end" => Kind::End,
            "if" => Kind::If,
            "range" => Kind::Range,
            "nil" => Kind::Nil,
            "template" => Kind::Template,
            "with" => Kind::With,
            "true" | "false" => Kind::Bool,
            _ => Kind::Identifier,
        };
        self.emit(kind);
        State::InsideAction
    }

    fn variable(&mut self) -> State {
        if self.at_terminator() {
            self.emit(Kind::Variable);
            return State::InsideAction;
        }
        self.field_or_variable(Kind::Variable)
    }

    fn field_or_variable(&mut self, kind: Kind) -> State {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable { Kind::Variable } else { Kind::Dot });
            return State::InsideAction;
        }
        while self.peek().is_some_and(is_alphanumeric) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or('\0');
            return self.error(format!("bad character {}", unicode_name(c)));
        }
        self.emit(kind);
        State::InsideAction
    }

    fn char_constant(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated character constant".into());
                    }
                }
                None | Some('\n') => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::CharConstant);
        State::InsideAction
    }

    fn number(&mut self) -> State {
        if !self.scan_number() {
            return self.error(format!("bad number syntax: {}", self.quoted_token()));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                return self.error(format!("bad number syntax: {}", self.quoted_token()));
            }
            self.emit(Kind::Complex);
        } else {
            self.emit(Kind::Number);
        }
        State::InsideAction
    }

    fn quoted_token(&self) -> String {
        crate::strconv::quote(&self.input[self.start..self.pos], false)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alphanumeric) {
            self.next();
            return false;
        }
        true
    }

    fn quote(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if matches!(self.next(), None | Some('\n')) {
                        return self.error("unterminated quoted string".into());
                    }
                }
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::String);
        State::InsideAction
    }

    fn raw_quote(&mut self) -> State {
        loop {
            match self.next() {
                None => return self.error("unterminated raw quoted string".into()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Kind::RawString);
        State::InsideAction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, String)> {
        lex(text, true, true).into_iter().map(|i| (i.kind, i.val)).collect()
    }

    #[test]
    fn trim_markers_eat_surrounding_space() {
        let items = kinds("a \n{{- 3 -}}\n b");
        assert_eq!(
            items,
            vec![
                (Kind::Text, "a".into()),
                (Kind::LeftDelim, "{{".into()),
                (Kind::Number, "3".into()),
                (Kind::RightDelim, "}}".into()),
                (Kind::Text, "b".into()),
                (Kind::Eof, "".into()),
            ]
        );
    }

    #[test]
    fn comments_vanish_and_negative_numbers_are_not_trim_markers() {
        let items = kinds("x {{- /* c */ -}} y{{-3}}");
        assert_eq!(items[0], (Kind::Text, "x".into()));
        assert_eq!(items[1], (Kind::Text, "y".into()));
        assert_eq!(items[3], (Kind::Number, "-3".into()));
    }

    #[test]
    fn errors_end_the_stream() {
        let items = kinds("{{ .a \u{a0} }}");
        assert_eq!(items.last().unwrap().1, "unrecognized character in action: U+00A0");
        assert_eq!(kinds("{{").last().unwrap().1, "unclosed action");
        assert_eq!(kinds("{{ \"a").last().unwrap().1, "unterminated quoted string");
        assert_eq!(kinds("{{ 3x }}").last().unwrap().1, "bad number syntax: \"3x\"");
        assert_eq!(kinds("{{ $x=1 }}").last().unwrap().1, "bad character U+003D '='");
    }
}
