//! Go's fmt as templates use it: `print`, `println`, `printf` and the text `{{ }}` writes for a value, with
//! Go's verbs, flags, widths and its `%!d(string=x)` way of reporting misuse.

use crate::strconv::{can_backquote, format_float, is_print, quote, quote_rune};
use crate::value::Value;

/// Go's `fmt.Sprint`: operands printed with `%v`, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = is_string_kind(arg);
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.buf
}

/// Go's `fmt.Sprintln`: operands separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.buf
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.printf(format, args);
    p.buf
}

/// What an action such as `{{ .Value }}` writes: `<no value>` for nil, otherwise `%v`.
pub(crate) fn action_text(v: &Value) -> String {
    match v {
        Value::Nil => "<no value>".into(),
        Value::String(s) => s.to_string(),
        v => sprint(std::slice::from_ref(v)),
    }
}

/// The text `html`, `js` and `urlquery` escape: Go's `evalArgs`, which prints nil as `<no value>`.
pub(crate) fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.to_string();
    }
    let args: Vec<Value> =
        args.iter().map(|a| if matches!(a, Value::Nil) { Value::from("<no value>") } else { a.clone() }).collect();
    sprint(&args)
}

fn is_string_kind(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Object(o) => matches!(o.underlying(), Some(Value::String(_))),
        _ => false,
    }
}

/// Go's limit on widths and precisions: larger numbers are treated as malformed.
const MAX_NUM: usize = 1_000_000;

#[derive(Clone, Copy, Default)]
struct Flags {
    wid: usize,
    prec: usize,
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    sharp_v: bool,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    /// Set while printing the operand of a `%!verb(...)` complaint: Stringers are not consulted then.
    erroring: bool,
    good_arg_num: bool,
    reordered: bool,
}

/// Go's `parsenum`: digits from `i`, or `None` if there are none or the number is too large (in which case
/// the rest of the format is consumed, as Go does).
fn parse_num(s: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let mut num = 0usize;
    let mut any = false;
    while i < s.len() && s[i].is_ascii_digit() {
        if num > MAX_NUM {
            return (None, s.len());
        }
        num = num * 10 + usize::from(s[i] - b'0');
        any = true;
        i += 1;
    }
    (any.then_some(num), i)
}

impl Printer {
    fn printf(&mut self, format: &str, args: &[Value]) {
        let s = format.as_bytes();
        let end = s.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        while i < end {
            self.good_arg_num = true;
            let lasti = i;
            while i < end && s[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1;
            self.f = Flags::default();
            while i < end {
                match s[i] {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => break,
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, s, i, args.len());
            if i < end && s[i] == b'*' {
                i += 1;
                let (w, ok, n) = int_from_arg(args, arg_num);
                arg_num = n;
                self.f.wid_present = ok;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                }
                if w < 0 {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                self.f.wid = usize::try_from(w.unsigned_abs()).unwrap_or(0);
                after_index = false;
            } else {
                let (w, ni) = parse_num(s, i);
                i = ni;
                self.f.wid_present = w.is_some();
                self.f.wid = w.unwrap_or(0);
                if after_index && self.f.wid_present {
                    self.good_arg_num = false;
                }
            }
            if i < end && s[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, s, i, args.len());
                if i < end && s[i] == b'*' {
                    i += 1;
                    let (p, ok, n) = int_from_arg(args, arg_num);
                    arg_num = n;
                    self.f.prec_present = ok && p >= 0;
                    self.f.prec = usize::try_from(p).unwrap_or(0);
                    if !self.f.prec_present {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (p, ni) = parse_num(s, i);
                    i = ni;
                    self.f.prec_present = true;
                    self.f.prec = p.unwrap_or(0);
                }
            }
            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, s, i, args.len());
            }
            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[i..].chars().next().unwrap_or('%');
            i += verb.len_utf8();
            if verb == '%' {
                self.buf.push('%');
            } else if !self.good_arg_num {
                self.buf.push_str(&format!("%!{verb}(BADINDEX)"));
            } else if arg_num >= args.len() {
                self.buf.push_str(&format!("%!{verb}(MISSING)"));
            } else {
                if verb == 'v' {
                    self.f.sharp_v = self.f.sharp;
                    self.f.sharp = false;
                    self.f.plus = false;
                }
                self.print_arg(&args[arg_num], verb);
                arg_num += 1;
            }
        }
        if !self.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (k, arg) in args[arg_num..].iter().enumerate() {
                if k > 0 {
                    self.buf.push_str(", ");
                }
                if let Value::Nil = arg {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    /// Go's `argNumber`: an explicit `[n]` argument index at `i`, if any.
    fn arg_number(&mut self, arg_num: usize, s: &[u8], i: usize, num_args: usize) -> (usize, usize, bool) {
        if i >= s.len() || s[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, width, ok) = parse_arg_number(&s[i..]);
        if ok && index < num_args {
            return (index, i + width, true);
        }
        self.good_arg_num = false;
        (arg_num, i + width, ok)
    }

    fn print_arg(&mut self, arg: &Value, verb: char) {
        match arg {
            Value::Nil => match verb {
                'T' | 'v' => self.pad_string("<nil>"),
                _ => self.bad_verb(verb, arg),
            },
            _ if verb == 'T' => self.fmt_s(&arg.type_name()),
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad_string(if *b { "true" } else { "false" }),
                _ => self.bad_verb(verb, arg),
            },
            Value::Int(i) => self.fmt_integer(*i, verb, arg),
            Value::Float(x) => self.fmt_float(*x, verb, arg),
            Value::String(s) => self.fmt_string(s, verb, arg),
            Value::List(items) => {
                self.buf.push('[');
                for (k, item) in items.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.print_element(item, verb);
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                self.buf.push_str("map[");
                for (k, (key, value)) in m.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(key, verb, &Value::from(key));
                    self.buf.push(':');
                    self.print_element(value, verb);
                }
                self.buf.push(']');
            }
            Value::Object(o) => {
                if !self.erroring && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q') {
                    if let Some(text) = o.display() {
                        return self.fmt_string(&text, verb, arg);
                    }
                }
                match o.underlying() {
                    Some(u) => self.print_arg(&u, verb),
                    None => self.pad_string(&format!("{{{}}}", o.type_name())),
                }
            }
        }
    }

    /// An element of a list or map: a nil element prints as `<nil>` whatever the verb.
    fn print_element(&mut self, v: &Value, verb: char) {
        match v {
            Value::Nil => self.pad_string("<nil>"),
            v => self.print_arg(v, verb),
        }
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match arg {
            Value::Nil => self.buf.push_str("<nil>"),
            arg => {
                self.buf.push_str(&arg.type_name());
                self.buf.push('=');
                self.print_arg(arg, 'v');
            }
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus { '0' } else { ' ' };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad_string(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(width);
        } else {
            self.write_padding(width);
            self.buf.push_str(s);
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            if let Some((i, _)) = s.char_indices().nth(self.f.prec) {
                return &s[..i];
            }
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad_string(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        let quoted = if self.f.sharp && can_backquote(s) { format!("`{s}`") } else { quote(s, self.f.plus) };
        self.pad_string(&quoted);
    }

    fn fmt_sx(&mut self, s: &str, upper: bool) {
        let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
        let mut length = s.len();
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width == 0 {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.space {
            if self.f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if self.f.sharp {
            width += 2;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let prefix = if upper { "0X" } else { "0x" };
        if self.f.sharp {
            self.buf.push_str(prefix);
        }
        for (i, &c) in s.as_bytes()[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push_str(prefix);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xf)] as char);
        }
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, false),
            'X' => self.fmt_sx(s, true),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_integer(&mut self, v: i64, verb: char, arg: &Value) {
        match verb {
            'v' | 'd' => self.integer(v, 10, verb, false),
            'b' => self.integer(v, 2, verb, false),
            'o' | 'O' => self.integer(v, 8, verb, false),
            'x' => self.integer(v, 16, verb, false),
            'X' => self.integer(v, 16, verb, true),
            'c' => {
                let c = rune(v);
                self.pad_string(c.encode_utf8(&mut [0; 4]));
            }
            'q' => {
                let q = quote_rune(rune(v), self.f.plus);
                self.pad_string(&q);
            }
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn integer(&mut self, v: i64, base: u64, verb: char, upper: bool) {
        let negative = v < 0;
        let mut u = v.unsigned_abs();
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old_zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old_zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
        let mut rev: Vec<u8> = Vec::new();
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => rev.extend_from_slice(if upper { b"X0" } else { b"x0" }),
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let text = String::from_utf8(rev).unwrap_or_default();
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad_string(&text);
        self.f.zero = old_zero;
    }

    fn fmt_unicode(&mut self, v: i64) {
        let u = v as u64;
        let prec = if self.f.prec_present && self.f.prec > 4 { self.f.prec } else { 4 };
        let mut text = format!("U+{u:0prec$X}");
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32).filter(|c| is_print(*c)) {
                text.push_str(&format!(" '{c}'"));
            }
        }
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad_string(&text);
        self.f.zero = old_zero;
    }

    fn fmt_float(&mut self, v: f64, verb: char, arg: &Value) {
        let prec = |default: i32| {
            if self.f.prec_present {
                i32::try_from(self.f.prec).unwrap_or(i32::MAX)
            } else {
                default
            }
        };
        match verb {
            'v' => self.float(v, 'g', -1),
            'g' | 'G' => self.float(v, verb, prec(-1)),
            'e' | 'E' | 'f' | 'F' => self.float(v, verb, prec(6)),
            _ => self.bad_verb(verb, arg),
        }
    }

    /// Go's `fmt.fmtFloat`: the number from strconv, then signs and padding.
    fn float(&mut self, v: f64, verb: char, prec: i32) {
        let mut num = format_float(v, verb, prec);
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(..1, " ");
        }
        if num[1..].starts_with(['I', 'N']) {
            let old_zero = self.f.zero;
            self.f.zero = false;
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad_string(&num);
            self.f.zero = old_zero;
            return;
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push_str(&num[..1]);
                self.write_padding(self.f.wid - num.len());
                self.buf.push_str(&num[1..]);
                return;
            }
            self.pad_string(&num);
            return;
        }
        self.pad_string(&num[1..]);
    }
}

/// Go's `fmt` converts out-of-range code points to U+FFFD.
fn rune(v: i64) -> char {
    u32::try_from(v).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}')
}

/// Go's `intFromArg`: a `*` width or precision taken from the arguments.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    match args.get(arg_num) {
        Some(v) => {
            let n = match v.resolved() {
                Value::Int(n) if n.unsigned_abs() <= MAX_NUM as u64 => Some(n),
                _ => None,
            };
            (n.unwrap_or(0), n.is_some(), arg_num + 1)
        }
        None => (0, false, arg_num),
    }
}

/// Go's `parseArgNumber`: `[n]` at the start of `s`, as a 0-based index, with the bytes it spans.
fn parse_arg_number(s: &[u8]) -> (usize, usize, bool) {
    if s.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..s.len() {
        if s[i] == b']' {
            let (n, ni) = parse_num(&s[..i], 1);
            return match n {
                Some(n) if ni == i && n >= 1 => (n - 1, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(format: &str, args: &[Value]) -> String {
        sprintf(format, args)
    }

    #[test]
    fn verbs_and_flags_match_go() {
        let i = |v: i64| Value::Int(v);
        let x = |v: f64| Value::Float(v);
        let s = |v: &str| Value::from(v);
        assert_eq!(
            f("%d|%5d|%-5d|%05d|%+d|% d", &[i(42), i(42), i(42), i(-42), i(42), i(42)]),
            "42|   42|42   |-0042|+42| 42"
        );
        assert_eq!(
            f(
                "%x %X %o %O %b %#x %#o %c %q %U",
                &[i(255), i(255), i(8), i(8), i(5), i(255), i(8), i(65), i(65), i(0x1F600)]
            ),
            "ff FF 10 0o10 101 0xff 010 A 'A' U+1F600"
        );
        assert_eq!(
            f("%.3d|%.0d|%8.3f|%-8.2f|%08.3f|%+.1e", &[i(7), i(0), x(2.34567), x(2.5), x(-2.34567), x(12345.678)]),
            "007||   2.346|2.50    |-002.346|+1.2e+04"
        );
        assert_eq!(f("%v %v %v %g %G", &[x(1e6), x(0.1), x(3.25), x(1e-7), x(1e-7)]), "1e+06 0.1 3.25 1e-07 1E-07");
        assert_eq!(
            f("%s|%10s|%-10s|%.2s|%q|%x|% X", &[s("a"), s("abc"), s("abc"), s("abc"), s("a\"b"), s("hi"), s("hi")]),
            "a|       abc|abc       |ab|\"a\\\"b\"|6869|68 69"
        );
        assert_eq!(f("%t %v", &[Value::Bool(true), Value::Bool(false)]), "true false");
        assert_eq!(f("%5.1f%%", &[x(99.44)]), " 99.4%");
        assert_eq!(
            f("%6.2f|%-6v|%06v", &[x(f64::INFINITY), x(f64::NAN), x(f64::NEG_INFINITY)]),
            "  +Inf|NaN   |  -Inf"
        );
    }

    #[test]
    fn misuse_is_reported_inline() {
        let s = |v: &str| Value::from(v);
        assert_eq!(f("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(f("%s", &[Value::Int(5)]), "%!s(int=5)");
        assert_eq!(f("%f", &[Value::Int(80)]), "%!f(int=80)");
        assert_eq!(f("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(f("%d", &[Value::Int(1), s("a"), Value::Nil]), "1%!(EXTRA string=a, <nil>)");
        assert_eq!(f("%", &[]), "%!(NOVERB)");
        assert_eq!(f("%z", &[Value::Int(1)]), "%!z(int=1)");
        assert_eq!(f("%s", &[Value::Nil]), "%!s(<nil>)");
        assert_eq!(f("%v", &[Value::Nil]), "<nil>");
        assert_eq!(f("%[2]d %[1]d", &[Value::Int(1), Value::Int(2)]), "2 1");
        assert_eq!(f("%[3]d", &[Value::Int(1)]), "%!d(BADINDEX)");
        assert_eq!(f("%*d|%-*d", &[Value::Int(4), Value::Int(7), Value::Int(3), Value::Int(7)]), "   7|7  ");
        assert_eq!(f("%99999999d", &[Value::Int(1)]), "%!(NOVERB)%!(EXTRA int=1)");
    }

    #[test]
    fn composites_print_as_go() {
        let list = Value::list([Value::from("a"), Value::Int(1), Value::Nil]);
        assert_eq!(sprint(std::slice::from_ref(&list)), "[a 1 <nil>]");
        let map: crate::value::Map = [("b", Value::Int(2)), ("a", Value::Float(1.5))].into_iter().collect();
        assert_eq!(sprint(&[map.into()]), "map[a:1.5 b:2]");
        assert_eq!(f("%d", &[list]), "[%!d(string=a) 1 <nil>]");
        assert_eq!(sprint(&[Value::from("a"), Value::Int(1), Value::Int(2), Value::from("b")]), "a1 2b");
        assert_eq!(sprintln(&[Value::from("a"), Value::Int(1)]), "a 1\n");
        assert_eq!(eval_args(&[Value::Nil]), "<no value>");
    }
}
