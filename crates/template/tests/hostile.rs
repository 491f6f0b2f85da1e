//! Broken and hostile templates: each gives an error, never a panic, a stack overflow, a hang or unbounded
//! memory.

use std::sync::Arc;

use vigil_template::{alertmanager, prometheus, Env, Functions, Options, Template, Value};

use crate::{run, run_with};

fn parse_error(text: &str) -> String {
    Template::parse("t", text, &Functions::new()).unwrap_err().to_string()
}

#[test]
fn unterminated_and_malformed_text_is_a_parse_error() {
    let cases = [
        ("{{ .X", "template: t:1: unclosed action"),
        ("{{ .X }", "template: t:1: unexpected \"}\" in operand"),
        ("{{ if .X }}", "template: t:1: unexpected EOF"),
        ("{{ define \"a\" }}", "template: t:1: unexpected EOF"),
        ("{{ \"abc", "template: t:1: unterminated quoted string"),
        ("{{ 'a", "template: t:1: unterminated character constant"),
        ("{{ (((1 }}", "template: t:1: unclosed left paren"),
        ("{{ /* x */ }}", "template: t:1: unexpected \"/\" in command"),
        ("{{ define 3 }}{{ end }}", "template: t:1: unexpected \"3\" in define clause"),
        ("{{ template }}", "template: t:1: unexpected \"}}\" in template clause"),
        ("{{ \"\\z\" }}", "template: t:1: invalid syntax"),
        ("{{ .X | 3 | 4 }}", "template: t:1: non executable command in pipeline stage 2"),
        ("{{ 0x }}", "template: t:1: illegal number syntax: \"0x\""),
        ("{{ 1e }}", "template: t:1: illegal number syntax: \"1e\""),
        ("\u{0}{{ \u{7f} }}", "template: t:1: unrecognized character in action: U+007F"),
    ];
    for (text, want) in cases {
        assert_eq!(parse_error(text), want, "{text:?}");
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let n = 100_000;
    let ifs = format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
    assert_eq!(parse_error(&ifs), "template: t:1: max nesting depth exceeded");
    let parens = format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(parse_error(&parens), "template: t:1: max expression depth exceeded");
    let blocks = format!("{}{}", "{{block \"b\" .}}".repeat(n), "{{end}}".repeat(n));
    assert_eq!(parse_error(&blocks), "template: t:1: max nesting depth exceeded");
    // Within the limit is fine, and long else-if chains do not nest.
    let ok = format!("{}x{}", "{{if 1}}".repeat(99), "{{end}}".repeat(99));
    assert_eq!(run(&ok, &Value::Nil).unwrap(), "x");
    let ok = format!("{{{{ {}1{} }}}}", "(print ".repeat(99), ")".repeat(99));
    assert_eq!(run(&ok, &Value::Nil).unwrap(), "1");
    let chain = format!(
        "{{{{if eq . 0}}}}zero{}{{{{end}}}}",
        (1..5000).map(|i| format!("{{{{else if eq . {i}}}}}{i}")).collect::<String>()
    );
    assert_eq!(run(&chain, &Value::Int(4999)).unwrap(), "4999");
}

#[test]
fn recursion_is_bounded() {
    let self_call = "{{define \"a\"}}{{template \"a\" .}}{{end}}{{template \"a\" .}}";
    assert_eq!(
        run(self_call, &Value::Nil).unwrap_err(),
        "template: t:1:25: executing \"a\" at <{{template \"a\" .}}>: exceeded maximum template depth (100)"
    );
    let mutual = "{{define \"a\"}}{{template \"b\"}}{{end}}{{define \"b\"}}{{if 1}}{{template \"a\"}}{{end}}{{end}}{{template \"a\"}}";
    assert!(run(mutual, &Value::Nil).unwrap_err().ends_with("exceeded maximum template depth (100)"));
    // 2^40 calls within the depth limit: stopped by the step budget.
    let mut fan = String::new();
    for i in 0..40 {
        fan.push_str(&format!(
            "{{{{define \"t{i}\"}}}}{{{{template \"t{0}\"}}}}{{{{template \"t{0}\"}}}}{{{{end}}}}",
            i + 1
        ));
    }
    fan.push_str("{{define \"t40\"}}{{end}}{{template \"t0\"}}");
    let options = Options { max_steps: 100_000, ..Options::default() };
    let err = run_with(&fan, &Value::Nil, &Functions::new(), options).unwrap_err();
    assert!(err.ends_with("execution exceeded the limit of 100000 steps"), "{err}");
}

#[test]
fn loops_are_bounded() {
    let options = Options { max_steps: 1_000_000, ..Options::default() };
    let err = run_with("{{range 1000000000}}{{end}}", &Value::Nil, &Functions::new(), options.clone()).unwrap_err();
    assert_eq!(err, "template: t:1:8: executing \"t\" at <1000000000>: execution exceeded the limit of 1000000 steps");
    let nested = "{{range $a := 100000}}{{range 100000}}{{$a}}{{end}}{{end}}";
    let err = run_with(nested, &Value::Nil, &Functions::new(), options).unwrap_err();
    assert!(err.contains("exceeded the limit of 1000000 steps") || err.contains("output exceeds"), "{err}");
}

#[test]
fn output_is_capped() {
    let err = run("{{range 100000000}}0123456789{{end}}", &Value::Nil).unwrap_err();
    assert_eq!(err, "template: t:1:19: executing \"t\" at <0123456789>: output exceeds the limit of 1048576 bytes");
    let small = Options { max_output: 100, ..Options::default() };
    assert_eq!(
        run_with("{{ printf \"%0200d\" 1 }}", &Value::Nil, &Functions::new(), small.clone()).unwrap_err(),
        "template: t:1:3: executing \"t\" at <printf \"%0200d\" 1>: result of printf exceeds the output limit of 100 bytes"
    );
    assert_eq!(run_with(&"x".repeat(100), &Value::Nil, &Functions::new(), small.clone()).unwrap().len(), 100);
    assert!(run_with(&"x".repeat(101), &Value::Nil, &Functions::new(), small).is_err());
    // Doubling a string in a loop is stopped by the cap on function results.
    let doubling = "{{$x := \"ab\"}}{{range 100}}{{$x = printf \"%s%s\" $x $x}}{{end}}";
    assert!(run(doubling, &Value::Nil)
        .unwrap_err()
        .ends_with("result of printf exceeds the output limit of 1048576 bytes"));
    // Nesting values without bound would overflow the stack when they are dropped.
    let nesting = "{{$x := 0}}{{range 100000}}{{$x = args $x}}{{end}}";
    let err = run_with(nesting, &Value::Nil, &prometheus::functions(""), Options::default()).unwrap_err();
    assert!(err.ends_with("error calling args: arguments nested more than 64 deep"), "{err}");
}

#[test]
fn bad_regexes_are_execution_errors() {
    let funcs = prometheus::functions("");
    let run = |text: &str| run_with(text, &Value::Nil, &funcs, Options::default());
    assert_eq!(
        run("{{ match \"[z-a]\" \"x\" }}").unwrap_err(),
        "template: t:1:3: executing \"t\" at <match \"[z-a]\" \"x\">: error calling match: error parsing regexp: invalid character class range, the start must be <= the end: `[z-a]`"
    );
    assert_eq!(
        run("{{ reReplaceAll \"(\" \"\" \"x\" }}").unwrap_err(),
        "template: t:1:3: executing \"t\" at <reReplaceAll \"(\" \"\" \"x\">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: unclosed group: `(`"
    );
    let huge = run("{{ match \"((a{1000}){1000}){1000}\" \"x\" }}").unwrap_err();
    assert!(huge.contains("error calling match: error parsing regexp:"), "{huge}");
}

#[test]
fn wrong_argument_types_are_errors() {
    let funcs = prometheus::functions("");
    let cases = [
        ("{{ humanize true }}", "error calling humanize: can't convert bool to float"),
        ("{{ humanize . }}", "error calling humanize: can't convert []interface {} to float"),
        ("{{ humanizePercentage nil }}", "error calling humanizePercentage: can't convert <nil> to float"),
        ("{{ first \"x\" }}", "wrong type for value; expected template.queryResult; got string"),
        ("{{ label \"a\" 1 }}", "wrong type for value; expected *template.sample; got int"),
        ("{{ toTime \"x\" }}", "error calling toTime: strconv.ParseFloat: parsing \"x\": invalid syntax"),
        ("{{ toTime \"NaN\" }}", "error calling toTime: value is NaN or Inf"),
        ("{{ parseDuration \"xyz\" }}", "error calling parseDuration: not a valid duration string: \"xyz\""),
        ("{{ title . }}", "wrong type for value; expected string; got []interface {}"),
        ("{{ stripPort }}", "wrong number of args for stripPort: want 1 got 0"),
        ("{{ \"a\" | graphLink \"b\" }}", "wrong number of args for graphLink: want 1 got 2"),
        ("{{ index . 1.5 }}", "error calling index: cannot index slice/array with type float64"),
        ("{{ slice . 1 2 3 4 }}", "error calling slice: too many slice indexes: 4"),
        ("{{ printf }}", "wrong number of args for printf: want at least 1 got 0"),
        ("{{ .Foo.Bar }}", "can't evaluate field Foo in type []interface {}"),
    ];
    let dot = Value::list([1, 2, 3]);
    for (text, want) in cases {
        let err = run_with(text, &dot, &funcs, Options::default()).unwrap_err();
        assert!(err.ends_with(want), "{text}: {err}");
    }
}

/// A small deterministic generator, so that failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn random_templates_never_panic() {
    let fragments = [
        "{{",
        "}}",
        "{{-",
        "-}}",
        " ",
        "\n",
        "x",
        ".",
        ".A",
        ".B.C",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "\"s\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "1.5e3",
        "0x1f",
        "nil",
        "true",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "\"t\"",
        ",",
        "printf",
        "\"%d %s %v %q %x %5.2f %-3t %[2]d %*d\"",
        "len",
        "index",
        "slice",
        "eq",
        "lt",
        "and",
        "or",
        "not",
        "html",
        "js",
        "urlquery",
        "print",
        "humanize",
        "query",
        "args",
        "reReplaceAll",
        "match",
        "\"(\"",
        "\".*\"",
        "toTime",
        "join",
        "stringSlice",
        "since",
        "date",
        "/*",
        "*/",
        "é",
        "\u{a0}",
        "{{/* c */}}",
        "{{ end }}",
        "{{ else }}",
        "{{ define \"t\" }}",
        "{{ template \"t\" . }}",
        ".D",
        "\"€1\"",
        "humanizeDuration",
        "humanizeTimestamp",
        "title",
        "toUpper",
        "stripDomain",
        "parseDuration",
        "tz",
        "sortByLabel",
        "first",
        "label",
        "\"\\x80\"",
        "'\\u00e9'",
        "0o7",
        "1_0",
        "else if",
        "else with",
    ];
    let mut funcs = prometheus::functions("http://x");
    funcs.extend(&alertmanager::functions());
    let mut map = vigil_template::Map::new();
    map.insert("A", Value::list([1, 2, 3]));
    map.insert("B", Value::string_map([("C", "c")]));
    map.insert("D", "€1é\u{0}");
    let dot = Value::from(map);
    let options = Options { max_steps: 20_000, max_output: 10_000, ..Options::default() };
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let len = 1 + rng.next() % 16;
        let text: String = (0..len).map(|_| rng.pick(&fragments)).collect();
        if let Ok(t) = Template::parse_with("fuzz", &text, &funcs, options.clone()) {
            parsed += 1;
            let _ = t.execute(&dot, &Env::new());
            let _ = t.execute(&Value::Nil, &Env::new());
        }
    }
    assert!(parsed > 1000, "only {parsed} random templates parsed");
    // Arbitrary characters, mostly those of delimiters and literals, for the lexer.
    let chars: Vec<char> = "{}-/*|()$.:=,'\"`\\ \n\tax0é€\u{0}\u{7f}\u{a0}".chars().collect();
    for _ in 0..20_000 {
        let len = 1 + rng.next() % 24;
        let text: String = (0..len).map(|_| chars[(rng.next() % chars.len() as u64) as usize]).collect();
        if let Ok(t) = Template::parse_with("fuzz", &text, &funcs, options.clone()) {
            let _ = t.execute(&dot, &Env::new());
        }
    }
}

#[test]
fn templates_are_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Template>();
    assert_send_sync::<Value>();
    let t =
        Arc::new(Template::parse("t", "{{ range . }}{{ . | printf \"%03d\" }}{{ end }}", &Functions::new()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut out = String::new();
                for _ in 0..200 {
                    out = t.execute(&Value::list([i, i + 1]), &Env::new()).unwrap();
                }
                out
            })
        })
        .collect();
    let outputs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outputs, ["000001", "001002", "002003", "003004"]);
}
