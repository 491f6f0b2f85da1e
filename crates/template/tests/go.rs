//! Go text/template behaviour: cases from Go's documentation and `exec_test.go`, with the outputs and error
//! messages Go gives.

use vigil_template::{Env, FuncError, Functions, Map, MissingKey, Object, Options, Template, Value};

use crate::{check_all, run, run_with};

#[derive(Debug)]
struct Counter;

impl Object for Counter {
    fn type_name(&self) -> &str {
        "*test.Counter"
    }

    fn field(&self, name: &str) -> Option<Value> {
        (name == "Name").then(|| Value::from("counter"))
    }

    fn has_method(&self, name: &str) -> bool {
        matches!(name, "Add" | "Fail")
    }

    fn call_method(&self, name: &str, args: &[Value]) -> Result<Value, FuncError> {
        match name {
            "Add" => {
                vigil_template::funcs::check_arity(name, args, 2)?;
                match (&args[0], &args[1]) {
                    (Value::Int(a), Value::Int(b)) => Ok(Value::Int(a + b)),
                    (a, _) => Err(FuncError::wrong_type("int", a)),
                }
            }
            _ => Err(FuncError::new("failed on purpose")),
        }
    }
}

#[derive(Debug)]
struct Stringer;

impl Object for Stringer {
    fn type_name(&self) -> &str {
        "*bytes.Buffer"
    }

    fn display(&self) -> Option<String> {
        Some("foozle".into())
    }
}

fn map(entries: &[(&str, Value)]) -> Value {
    entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<Map>().into()
}

/// Go's `tVal`, in part.
fn data() -> Value {
    map(&[
        ("I", Value::Int(17)),
        ("X", "x".into()),
        ("SI", Value::list([3, 4, 5])),
        ("SIEmpty", Value::list(Vec::<Value>::new())),
        ("SB", Value::list([true, false])),
        ("MSI", map(&[("one", 1.into()), ("two", 2.into()), ("three", 3.into())])),
        ("MSIone", map(&[("one", 1.into())])),
        ("MSIEmpty", map(&[])),
        ("MSS", Value::string_map([("a", "x")])),
        ("SMSI", Value::list([map(&[("one", 1.into())]), map(&[("eleven", 11.into())])])),
        ("U", map(&[("V", "v".into())])),
        ("True", true.into()),
        ("FloatZero", 0.0.into()),
        ("Empty0", Value::Nil),
        ("Str", Value::object(Stringer)),
        ("Obj", Value::object(Counter)),
    ])
}

#[test]
fn documentation_examples() {
    // The examples of the "Examples" section of text/template's package documentation.
    let q = Ok(r#""output""#);
    let cases = [
        (r#"{{"\"output\""}}"#, q),
        ("{{`\"output\"`}}", q),
        (r#"{{printf "%q" "output"}}"#, q),
        (r#"{{"output" | printf "%q"}}"#, q),
        (r#"{{printf "%q" (print "out" "put")}}"#, q),
        (r#"{{"put" | printf "%s%s" "out" | printf "%q"}}"#, q),
        (r#"{{"output" | printf "%s" | printf "%q"}}"#, q),
        (r#"{{with "output"}}{{printf "%q" .}}{{end}}"#, q),
        (r#"{{with $x := "output" | printf "%q"}}{{$x}}{{end}}"#, q),
        (r#"{{with $x := "output"}}{{printf "%q" $x}}{{end}}"#, q),
        (r#"{{with $x := "output"}}{{$x | printf "%q"}}{{end}}"#, q),
        ("{{23 -}} < {{- 45}}", Ok("23<45")),
        (
            r#"{{define "T1"}}ONE{{end}}{{define "T2"}}TWO{{end}}{{define "T3"}}{{template "T1"}} {{template "T2"}}{{end}}{{template "T3"}}"#,
            Ok("ONE TWO"),
        ),
    ];
    check_all(&cases, |t| run(t, &Value::Nil));
}

#[test]
fn actions_and_literals() {
    let cases = [
        ("plain text", Ok("plain text")),
        ("{{.I}} {{.X}} {{.True}} {{.FloatZero}}", Ok("17 x true 0")),
        ("{{.U.V}}-{{$.U.V}}-{{(.U).V}}", Ok("v-v-v")),
        ("{{.}}", Ok("map[Empty0:<nil> FloatZero:0 I:17 MSI:map[one:1 three:3 two:2] MSIEmpty:map[] MSIone:map[one:1] MSS:map[a:x] Obj:{*test.Counter} SB:[true false] SI:[3 4 5] SIEmpty:[] SMSI:[map[one:1] map[eleven:11]] Str:foozle True:true U:map[V:v] X:x]")),
        ("{{.Missing}}|{{.Empty0}}|{{.MSS.nope}}", Ok("<no value>|<no value>|<no value>")),
        ("{{.Str}} {{print .Str}} {{printf \"%s|%v|%d\" .Str .Str .Str}}", Ok("foozle foozle foozle|foozle|{*bytes.Buffer}")),
        ("{{1_000}} {{0x10}} {{017}} {{0o17}} {{0b101}} {{+3}} {{-3}} {{'a'}} {{'\\n'}}", Ok("1000 16 15 15 5 3 -3 97 10")),
        ("{{1e3}} {{1.5e-7}} {{.5}} {{0x1p-2}} {{1e6}} {{123456789.0}}", Ok("1000 1.5e-07 0.5 0.25 1e+06 1.23456789e+08")),
        ("{{printf \"%T %T %T %T\" 0xef 1.0 'x' \"s\"}}", Ok("int float64 int string")),
        ("{{\"\\t\\u00e9\\x41\\101\"}}|{{`a\\n`}}", Ok("\téAA|a\\n")),
        ("{{true}} {{false}}", Ok("true false")),
        ("a{{/* comment */}}b", Ok("ab")),
        ("a \n{{- /* comment */ -}}\n b", Ok("ab")),
        ("{{ printf\n\t\"%d-%d\"\n 1\n 2 }}", Ok("1-2")),
        ("{{\"aaa\"|printf}}", Ok("aaa")),
        ("{{print \"hello, print\"}}|{{print 1 2 3}}|{{print nil}}|{{println 1 2 3}}", Ok("hello, print|1 2 3|<nil>|1 2 3\n")),
        ("{{printf \"%04x\" 127}} {{printf \"%g\" 3.5}} {{printf \"%5.2f|%-6s|%+d\" 3.14159 \"ab\" 5}}", Ok("007f 3.5  3.14|ab    |+5")),
        ("{{printf \"%d %s\" 1}}|{{printf \"%d\" 1 2}}|{{printf \"%s\" 1}}", Ok("1 %!s(MISSING)|1%!(EXTRA int=2)|%!s(int=1)")),
        ("{{printf \"%v %v\" .SI .MSIone}}", Ok("[3 4 5] map[one:1]")),
    ];
    check_all(&cases, |t| run(t, &data()));
}

#[test]
fn control_structures() {
    let cases = [
        ("{{if true}}TRUE{{end}}", Ok("TRUE")),
        ("{{if false}}TRUE{{else}}FALSE{{end}}", Ok("FALSE")),
        ("{{if 1}}NON-ZERO{{else}}ZERO{{end}} {{if 0}}NON-ZERO{{else}}ZERO{{end}}", Ok("NON-ZERO ZERO")),
        ("{{if 1.5}}NON-ZERO{{else}}ZERO{{end}} {{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}", Ok("NON-ZERO ZERO")),
        ("{{if ``}}NON-EMPTY{{else}}EMPTY{{end}} {{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}", Ok("EMPTY EMPTY")),
        (
            "{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}} {{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}",
            Ok("NON-EMPTY EMPTY"),
        ),
        ("{{if .Missing}}NON-ZERO{{else}}ZERO{{end}} {{if not .Missing}}ZERO{{else}}NON-ZERO{{end}}", Ok("ZERO ZERO")),
        ("{{if $x := true}}{{with $y := .I}}{{$x}},{{$y}}{{end}}{{end}}", Ok("true,17")),
        ("{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}", Ok("17,true")),
        ("{{if false}}FALSE{{else if true}}TRUE{{end}}", Ok("TRUE")),
        ("{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}", Ok("3")),
        ("{{if eq 1 3}}1{{else if eq 2 3}}2{{else}}none{{end}}", Ok("none")),
        (
            "{{with false}}{{.}}{{else}}FALSE{{end}} {{with 1.5}}{{.}}{{end}} {{with .SI}}{{.}}{{end}}",
            Ok("FALSE 1.5 [3 4 5]"),
        ),
        ("{{with .MSIone}}{{.}}{{else}}EMPTY{{end}} {{with $x := $}}{{$x.U.V}}{{end}}", Ok("map[one:1] v")),
        ("{{with .Missing}}A{{else with .I}}{{.}}{{else}}C{{end}}", Ok("17")),
        ("{{range .SI}}-{{.}}-{{end}}", Ok("-3--4--5-")),
        ("{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}} {{range .Empty0}}x{{else}}nil{{end}}", Ok("EMPTY nil")),
        ("{{range .SB}}-{{.}}-{{end}}", Ok("-true--false-")),
        ("{{range .MSI}}-{{.}}-{{end}}", Ok("-1--3--2-")),
        ("{{range $x := .SI}}<{{$x}}>{{end}}", Ok("<3><4><5>")),
        ("{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}", Ok("<0=3><1=4><2=5>")),
        ("{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}", Ok("<one=1>")),
        ("{{range $x := .SI}}<{{$foo:=$x}}{{$x}}>{{end}}", Ok("<3><4><5>")),
        ("{{range .SI}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}", Ok("3")),
        ("{{range .SI}}{{if eq . 4}}{{continue}}{{end}}{{.}}{{end}}", Ok("35")),
        ("{{range $i, $e := .SI}}{{range $.SB}}{{if .}}{{continue}}{{end}}{{$i}}{{end}}{{end}}", Ok("012")),
        ("{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}", Ok("012|01|none")),
        ("{{$i := 0}}{{$e := 0}}{{range $i, $e = .SI}}{{end}}{{$i}}:{{$e}}", Ok("2:5")),
        ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", Ok("2")),
        ("{{$x := 1}}{{if true}}{{$x := 2}}{{end}}{{$x}}", Ok("1")),
        ("{{$x := 1}}{{range .SI}}{{$x = .}}{{end}}{{$x}}", Ok("5")),
        ("{{range .MSIone}}{{if $.True}}{{$.I}}{{end}}{{end}}", Ok("17")),
        ("{{or .SI \"slice is empty\"}} {{or .SIEmpty \"slice is empty\"}}", Ok("[3 4 5] slice is empty")),
        ("{{block \"b\" .X}}block {{.}}{{end}}", Ok("block x")),
        ("{{define \"x\"}}{{.}}{{$}}{{end}}{{template \"x\" .I}}{{template \"x\"}}", Ok("1717<no value><no value>")),
        ("{{template \"x\" $x := 5}}{{define \"x\"}}{{.}}{{end}}{{$x}}", Ok("55")),
    ];
    check_all(&cases, |t| run(t, &data()));
}

#[test]
fn builtin_functions() {
    let cases = [
        ("{{not true}} {{not false}} {{not 0}} {{not .SIEmpty}}", Ok("false true true true")),
        ("{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}", Ok("false 0 0 1")),
        ("{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}", Ok("0 1 true 1")),
        (
            "{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}} {{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}",
            Ok("TRUE FALSE"),
        ),
        ("{{and false (index .SI 10)}} {{or true (len 3)}} {{0 | and 1}} {{0 | or 1}}", Ok("false true 0 1")),
        (
            "{{index .SI 0}} {{index .SI 1}} {{index .MSI `two`}} {{index .SMSI 1 `eleven`}} {{index \"abc\" 1}}",
            Ok("3 4 2 11 98"),
        ),
        ("{{index .MSS `nope`}}|{{index .MSI `nope`}}|{{index .SI}}", Ok("|<no value>|[3 4 5]")),
        (
            "{{slice .SI 1}} {{slice .SI 1 2}} {{slice .SI}} {{slice \"hello\" 1 3}} {{slice .SI 0 1 2}}",
            Ok("[4 5] [4] [3 4 5] el [3]"),
        ),
        ("{{len .SI}} {{len .MSI}} {{len \"héllo\"}} {{len .SIEmpty}}", Ok("3 3 6 0")),
        ("{{html \"<script>alert(\\\"XSS\\\");</script>\"}}", Ok("&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;")),
        (
            "{{printf \"<script>alert(\\\"XSS\\\");</script>\" | html}} {{html .Missing}}",
            Ok("&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt; &lt;no value&gt;"),
        ),
        ("{{js \"It'd be nice.\"}}", Ok("It\\'d be nice.")),
        ("{{\"http://www.example.org/\"|urlquery}} {{urlquery \"a b\" 1}}", Ok("http%3A%2F%2Fwww.example.org%2F a+b1")),
        (
            "{{eq 1 1}} {{eq 1 2}} {{eq 1 2 3 1}} {{eq \"a\" \"b\" \"a\"}} {{eq .I 17}} {{eq true true}}",
            Ok("true false true true true true"),
        ),
        (
            "{{ne 1 2}} {{ne \"a\" \"a\"}} {{eq nil nil}} {{eq .Missing 1}} {{eq .Obj .Obj}}",
            Ok("true false true false true"),
        ),
        (
            "{{lt 1 2}} {{le 2 2}} {{gt 3 2}} {{ge 1 2}} {{lt \"a\" \"b\"}} {{lt 1.5 2.5}}",
            Ok("true true true false true true"),
        ),
        ("{{gt 1.5 1}} {{eq 2.0 2}} {{lt 1 1.5}} {{ge .FloatZero 0}}", Ok("true true true true")),
        (
            "{{.Obj.Add 1 2}} {{2 | .Obj.Add 1}} {{.Obj.Name}} {{$.Obj.Add 20 .I}} {{(.Obj).Add 1 1}}",
            Ok("3 3 counter 37 2"),
        ),
    ];
    check_all(&cases, |t| run(t, &data()));
}

#[test]
fn execution_errors_name_the_place() {
    let e = |pos: &str, at: &str, msg: &str| format!("template: t:{pos}: executing \"t\" at <{at}>: {msg}");
    let cases: Vec<(&str, Result<&str, String>)> = vec![
        ("{{3 2}}", Err(e("1:2", "3", "can't give argument to non-function 3"))),
        ("{{$x := 1}}{{$x 2}}", Err(e("1:13", "$x", "can't give argument to non-function $x"))),
        ("{{if nil}}TRUE{{end}}", Err(e("1:5", "nil", "nil is not a command"))),
        ("{{len 3}}", Err(e("1:2", "len 3", "error calling len: len of type int"))),
        ("{{index .SI 10}}", Err(e("1:2", "index .SI 10", "error calling index: index out of range: 10"))),
        (
            "{{index .SI `hello`}}",
            Err(e("1:2", "index .SI `hello`", "error calling index: cannot index slice/array with type string")),
        ),
        ("{{index nil 1}}", Err(e("1:2", "index nil 1", "error calling index: index of untyped nil"))),
        (
            "{{index .MSI 10}}",
            Err(e("1:2", "index .MSI 10", "error calling index: value has type int; should be string")),
        ),
        ("{{slice .SI 2 1}}", Err(e("1:2", "slice .SI 2 1", "error calling slice: invalid slice index: 2 > 1"))),
        ("{{.I.Foo}}", Err(e("1:4", ".I.Foo", "can't evaluate field Foo in type int"))),
        ("line one\n  {{ .X.Foo }}", Err(e("2:7", ".X.Foo", "can't evaluate field Foo in type string"))),
        ("{{.Obj.Nope}}", Err(e("1:6", ".Obj.Nope", "can't evaluate field Nope in type *test.Counter"))),
        ("{{.Obj.Name 1}}", Err(e("1:6", ".Obj.Name", "Name has arguments but cannot be invoked as function"))),
        ("{{.MSI.one 1}}", Err(e("1:6", ".MSI.one", "one is not a method but has arguments"))),
        ("{{.Obj.Fail}}", Err(e("1:6", ".Obj.Fail", "error calling Fail: failed on purpose"))),
        ("{{.Obj.Add 1}}", Err(e("1:11", "1", "wrong number of args for Add: want 2 got 1"))),
        ("{{1|printf}}", Err(e("1:4", "printf", "wrong type for value; expected string; got int"))),
        ("{{not}}", Err(e("1:2", "not", "wrong number of args for not: want 1 got 0"))),
        ("{{template \"nope\"}}", Err(e("1:11", "{{template \"nope\"}}", "template \"nope\" not defined"))),
        ("{{range .I.X}}{{end}}", Err(e("1:10", ".I.X", "can't evaluate field X in type int"))),
        ("{{range true}}{{end}}", Err(e("1:8", "true", "range can't iterate over true"))),
        ("{{range $i, $e := 3}}{{end}}", Err(e("1:18", "3", "can't use 3 to iterate over more than one variable"))),
        ("{{(nil).True}}", Err(e("1:3", "nil", "nil is not a command"))),
        ("{{$x := 1}}{{$x.anything}}", Err(e("1:15", "$x.anything", "can't evaluate field anything in type int"))),
        ("{{18446744073709551615}}", Err(e("1:2", "18446744073709551615", "18446744073709551615 overflows int"))),
        (
            "{{eq 1 \"a\"}}",
            Err(e("1:2", "eq 1 \"a\"", "error calling eq: incompatible types for comparison: int and string")),
        ),
        ("{{lt true false}}", Err(e("1:2", "lt true false", "error calling lt: invalid type for comparison"))),
        (
            "{{eq .SI .SI}}",
            Err(e("1:2", "eq .SI .SI", "error calling eq: non-comparable type [3 4 5]: []interface {}")),
        ),
        ("{{eq 1}}", Err(e("1:2", "eq 1", "error calling eq: missing argument for comparison"))),
    ];
    let cases: Vec<(&str, Result<&str, &str>)> =
        cases.iter().map(|(t, w)| (*t, w.as_ref().map(|s| *s).map_err(String::as_str))).collect();
    check_all(&cases, |t| run(t, &data()));
}

#[test]
fn parse_errors_name_the_line() {
    let cases = [
        ("{{", Err("template: t:1: unclosed action")),
        ("a\n{{ .X", Err("template: t:2: unclosed action")),
        ("{{ .X\n\n", Err("template: t:3: unclosed action started at t:1")),
        ("{{ \"abc }}", Err("template: t:1: unterminated quoted string")),
        ("{{ `abc }}", Err("template: t:1: unterminated raw quoted string")),
        ("{{ 'ab' }}", Err("template: t:1: malformed character constant: 'ab'")),
        ("{{/* abc }}", Err("template: t:1: unclosed comment")),
        ("{{/* abc */ x}}", Err("template: t:1: comment ends before closing delimiter")),
        ("{{ (1 }}", Err("template: t:1: unclosed left paren")),
        ("{{ 1) }}", Err("template: t:1: unexpected \")\" in command")),
        ("{{ $x }}", Err("template: t:1: undefined variable \"$x\"")),
        ("{{ foo }}", Err("template: t:1: function \"foo\" not defined")),
        ("{{if}}{{end}}", Err("template: t:1: missing value for if")),
        ("{{end}}", Err("template: t:1: unexpected {{end}}")),
        ("{{else}}", Err("template: t:1: unexpected {{else}}")),
        ("{{range .}}", Err("template: t:1: unexpected EOF")),
        ("{{break}}", Err("template: t:1: {{break}} outside {{range}}")),
        ("{{range .}}{{else}}{{continue}}{{end}}", Err("template: t:1: {{continue}} outside {{range}}")),
        ("{{define \"a\"}}{{range .}}{{end}}{{break}}{{end}}", Err("template: t:1: {{break}} outside {{range}}")),
        ("a\nb\n{{ .X | 3 }}", Err("template: t:3: non executable command in pipeline stage 2")),
        (
            "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
            Err("template: t:1: template: multiple definition of template \"a\""),
        ),
        ("{{ .X.3 }}", Err("template: t:1: unexpected \".3\" in operand")),
        ("{{ \"x\".Y }}", Err("template: t:1: unexpected . after term \"\\\"x\\\"\"")),
        ("{{range $a, $b, $c := .}}{{end}}", Err("template: t:1: too many declarations in range")),
        ("{{range $a, 3}}{{end}}", Err("template: t:1: range can only initialize variables")),
        ("{{with $a, $b := .}}{{end}}", Err("template: t:1: too many declarations in with")),
        ("{{ 08 }}", Err("template: t:1: integer overflow: \"08\"")),
        ("{{ 3x }}", Err("template: t:1: bad number syntax: \"3x\"")),
        ("{{ 1 | }}x", Ok("1x")),
        ("{{ | 1 }}", Err("template: t:1: unexpected \"|\" in command")),
        ("{{ . | }}{{ ! }}", Err("template: t:1: unexpected \"!\" in command")),
        ("{{template .X}}", Err("template: t:1: unexpected \".X\" in template clause")),
        ("{{range .}}{{else if .}}{{end}}", Err("template: t:1: unexpected <if> in input")),
        ("{{with .}}{{else}}{{else}}{{end}}", Err("template: t:1: expected end; found {{else}}")),
        ("{{define \"a\"}}{{else}}{{end}}", Err("template: t:1: unexpected {{else}} in define clause")),
        ("{{ printf \"%d\" 1 2i }}", Err("template: t:1: complex constants are not supported: 2i")),
    ];
    check_all(&cases, |t| run(t, &data()));
}

#[test]
fn missing_keys_follow_the_option() {
    let zero = Options { missing_key: MissingKey::Zero, ..Options::default() };
    let error = Options { missing_key: MissingKey::Error, ..Options::default() };
    let f = Functions::new();
    assert_eq!(run_with("{{.MSS.nope}}|{{.MSI.nope}}|{{.Nope}}", &data(), &f, zero).unwrap(), "|<no value>|<no value>");
    assert_eq!(
        run_with("{{.MSI.nope}}", &data(), &f, error.clone()).unwrap_err(),
        "template: t:1:6: executing \"t\" at <.MSI.nope>: map has no entry for key \"nope\""
    );
    assert_eq!(
        run_with("{{.Foo}}", &Value::Nil, &f, error).unwrap_err(),
        "template: t:1:2: executing \"t\" at <.Foo>: nil data; no entry for key \"Foo\""
    );
}

#[test]
fn numbers_compare_as_go_when_asked() {
    let strict = Options { mixed_number_comparison: false, ..Options::default() };
    assert_eq!(
        run_with("{{gt 1.5 1}}", &Value::Nil, &Functions::new(), strict).unwrap_err(),
        "template: t:1:2: executing \"t\" at <gt 1.5 1>: error calling gt: incompatible types for comparison: float64 and int"
    );
    // Go's rules for NaN: gt is "not less or equal".
    assert_eq!(run("{{gt . 1.0}} {{lt . 1.0}} {{eq . .}}", &Value::Float(f64::NAN)).unwrap(), "true false false");
}

#[test]
fn template_sets_share_definitions() {
    let funcs = Functions::new();
    let mut t = Template::parse("root", "{{block \"greeting\" .}}Hello {{.}}{{end}}!", &funcs).unwrap();
    assert_eq!(t.names(), ["greeting", "root"]);
    assert_eq!(t.execute(&"you".into(), &Env::new()).unwrap(), "Hello you!");
    // A later definition replaces the block; an empty one does not.
    t.add("more", "{{define \"greeting\"}}Hi {{.}}{{end}}").unwrap();
    t.add("empty", "{{define \"greeting\"}}  {{end}}").unwrap();
    assert_eq!(t.execute(&"you".into(), &Env::new()).unwrap(), "Hi you!");
    let derived = t.with_root("", "{{template \"greeting\" .}}?").unwrap();
    assert_eq!(derived.execute(&"me".into(), &Env::new()).unwrap(), "Hi me?");
    assert_eq!(t.execute_template("greeting", &"x".into(), &Env::new()).unwrap(), "Hi x");
    assert_eq!(
        t.execute_template("nope", &Value::Nil, &Env::new()).unwrap_err().to_string(),
        "template: no template \"nope\" associated with template \"root\""
    );
    // Errors inside a defined template name it, and the text it was parsed from.
    let t = Template::parse("file", "\n{{define \"inner\"}}\n  {{.Nope.X}}{{end}}{{template \"inner\" 1}}", &funcs)
        .unwrap();
    assert_eq!(
        t.execute(&Value::Nil, &Env::new()).unwrap_err().to_string(),
        "template: file:3:9: executing \"inner\" at <.Nope.X>: can't evaluate field Nope in type int"
    );
    // A failed add leaves the set as it was.
    let mut t = Template::parse("root", "{{define \"a\"}}A{{end}}", &funcs).unwrap();
    assert!(t.add("bad", "{{define \"a\"}}B{{end}}{{").is_err());
    assert_eq!(t.execute_template("a", &Value::Nil, &Env::new()).unwrap(), "A");
}

#[test]
fn predeclared_variables_come_from_the_env() {
    let options = Options { variables: vec!["labels".into(), "$value".into()], ..Options::default() };
    let t = Template::parse_with(
        "t",
        "{{$labels.job}} {{$value}}{{define \"x\"}}[{{$labels.job}}]{{end}}{{template \"x\"}}{{$value = 2}}{{$value}}",
        &Functions::new(),
        options,
    )
    .unwrap();
    let env = Env::new().var("$labels", Value::string_map([("job", "api")])).var("value", 1.5);
    assert_eq!(t.execute(&Value::Nil, &env).unwrap(), "api 1.5[api]2");
    assert_eq!(t.execute(&Value::Nil, &Env::new()).unwrap(), "<no value> <no value>[<no value>]2");
}

#[test]
fn user_functions_shadow_builtins_and_break_can_be_a_function() {
    let mut funcs = Functions::new();
    funcs.add("len", vigil_template::Arity::Exact(1), |_, _| Ok(Value::from("mine")));
    funcs.add("break", vigil_template::Arity::Exact(0), |_, _| Ok(Value::from("fn")));
    assert_eq!(run_with("{{len 3}} {{break}}", &Value::Nil, &funcs, Options::default()).unwrap(), "mine fn");
}
