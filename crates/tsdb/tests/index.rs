//! Tests of `index`: selection against a brute-force model, label names and values, removal, and memory use.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use roaring::RoaringBitmap;
use vigil_model::{Labels, MatchOp, Matcher};
use vigil_tsdb::index::{Index, IndexError, SeriesId};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied()).unwrap()
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn ids(ids: &[SeriesId]) -> RoaringBitmap {
    ids.iter().copied().collect()
}

fn strings(values: Vec<Arc<str>>) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// Series 0: `up{job="a"}`, 1: `up{job="b", env="prod"}`, 2: `up{env=""}` (so no `env`), 3: `down{job="a"}`.
fn small_index() -> Index {
    let mut index = Index::new();
    for l in [
        labels(&[("__name__", "up"), ("job", "a")]),
        labels(&[("__name__", "up"), ("job", "b"), ("env", "prod")]),
        labels(&[("__name__", "up"), ("env", "")]),
        labels(&[("__name__", "down"), ("job", "a")]),
    ] {
        index.get_or_create(&l).unwrap();
    }
    index
}

#[test]
fn series_get_ids_in_order_and_are_found_again() {
    let mut index = Index::new();
    let a = labels(&[("__name__", "up"), ("job", "a")]);
    let b = labels(&[("__name__", "up"), ("job", "b")]);
    assert_eq!(index.get_or_create(&a), Ok((0, true)));
    assert_eq!(index.get_or_create(&b), Ok((1, true)));
    assert_eq!(index.get_or_create(&a), Ok((0, false)));
    assert_eq!(index.get(&b), Some(1));
    assert_eq!(index.get(&labels(&[("__name__", "up")])), None);
    assert_eq!(index.labels(1), Some(b.clone()));
    assert_eq!(index.label_value(1, "job"), Some("b"));
    assert_eq!(index.label_value(1, "env"), None);
    assert_eq!(index.len(), 2);
    assert_eq!(index.postings("job", "a"), Some(&ids(&[0])));
    assert_eq!(index.postings("__name__", "up"), Some(&ids(&[0, 1])));
}

#[test]
fn prometheus_empty_value_semantics() {
    let index = small_index();
    let select = |ms: &[(MatchOp, &str, &str)]| {
        let ms: Vec<Matcher> = ms.iter().map(|&(op, n, v)| matcher(op, n, v)).collect();
        index.select(&ms).iter().collect::<Vec<_>>()
    };
    // `=""` means the label is absent; `!=""` that it is present.
    assert_eq!(select(&[(MatchOp::Equal, "env", "")]), [0, 2, 3]);
    assert_eq!(select(&[(MatchOp::NotEqual, "env", "")]), [1]);
    // `=~".*"` also matches series lacking the label; `=~".+"` does not.
    assert_eq!(select(&[(MatchOp::Regex, "env", ".*")]), [0, 1, 2, 3]);
    assert_eq!(select(&[(MatchOp::Regex, "env", ".+")]), [1]);
    // `!=` and `!~` keep series lacking the label.
    assert_eq!(select(&[(MatchOp::NotEqual, "job", "a")]), [1, 2]);
    assert_eq!(select(&[(MatchOp::NotRegex, "job", "a|b")]), [2]);
    assert_eq!(select(&[(MatchOp::Equal, "__name__", "up"), (MatchOp::NotRegex, "env", "p.*")]), [0, 2]);
    // A label no series has behaves as empty everywhere.
    assert_eq!(select(&[(MatchOp::Equal, "nope", "")]), [0, 1, 2, 3]);
    assert!(select(&[(MatchOp::Regex, "nope", ".+")]).is_empty());
    // Regexes are anchored: `u` does not match `up`.
    assert!(select(&[(MatchOp::Regex, "__name__", "u")]).is_empty());
    assert_eq!(select(&[(MatchOp::Regex, "__name__", "u.*|d.*n")]), [0, 1, 2, 3]);
    assert_eq!(select(&[]), [0, 1, 2, 3]);
}

#[test]
fn label_names_and_values_follow_the_given_series() {
    let index = small_index();
    assert_eq!(strings(index.label_names(index.all())), ["__name__", "env", "job"]);
    assert_eq!(strings(index.label_names(&ids(&[2]))), ["__name__"]);
    assert_eq!(strings(index.label_names(&ids(&[0, 3, 99]))), ["__name__", "job"]);
    assert_eq!(strings(index.label_values("job", index.all())), ["a", "b"]);
    assert_eq!(strings(index.label_values("job", &ids(&[0, 2, 3]))), ["a"]);
    assert!(index.label_values("nope", index.all()).is_empty());
    assert!(index.label_names(&RoaringBitmap::new()).is_empty());
}

#[test]
fn removed_series_leave_no_trace_and_ids_are_not_reused() {
    let mut index = small_index();
    let symbols = index.symbol_count();
    assert_eq!(index.remove(&ids(&[1, 7])), 1);
    assert_eq!(index.remove(&ids(&[1])), 0);
    assert!(!index.contains(1));
    assert_eq!(index.labels(1), None);
    assert_eq!(strings(index.label_names(index.all())), ["__name__", "job"]);
    assert_eq!(index.postings("env", "prod"), None);
    // `env`, `prod` and `b` were only used by series 1.
    assert_eq!(index.symbol_count(), symbols - 3);
    assert_eq!(index.select(&[matcher(MatchOp::Equal, "__name__", "up")]), ids(&[0, 2]));
    let b = labels(&[("__name__", "up"), ("job", "b"), ("env", "prod")]);
    assert_eq!(index.get(&b), None);
    assert_eq!(index.get_or_create(&b), Ok((4, true)));
    let all = index.all().clone();
    index.remove(&all);
    assert!(index.is_empty() && index.symbol_count() == 0 && index.label_names(index.all()).is_empty());
}

#[test]
fn strings_are_interned_once() {
    let mut index = Index::new();
    for i in 0..100 {
        let l =
            Labels::from_pairs([("__name__", "m"), ("job", "node"), ("instance", &format!("h{}", i % 10))]).unwrap();
        index.get_or_create(&l).unwrap();
    }
    // One series per instance: 10 series, and the strings __name__, m, job, node, instance, h0..h9.
    assert_eq!(index.len(), 10);
    assert_eq!(index.symbol_count(), 15);
}

#[test]
fn insert_with_id_restores_replayed_series() {
    let mut index = Index::new();
    let a = labels(&[("__name__", "a")]);
    let b = labels(&[("__name__", "b")]);
    index.insert_with_id(7, &a).unwrap();
    assert_eq!(index.insert_with_id(7, &a), Ok(()));
    assert!(matches!(index.insert_with_id(7, &b), Err(IndexError::IdInUse { id: 7, .. })));
    assert!(matches!(index.insert_with_id(3, &a), Err(IndexError::SeriesExists { existing: 7, .. })));
    assert_eq!(index.insert_with_id(u32::MAX, &b), Err(IndexError::IdOutOfRange(u32::MAX)));
    index.insert_with_id(2, &b).unwrap();
    assert_eq!(index.get_or_create(&labels(&[("__name__", "c")])), Ok((8, true)));
    assert_eq!(index.select(&[matcher(MatchOp::Regex, "__name__", "a|b")]), ids(&[2, 7]));
}

#[test]
fn bytes_per_series_stay_small() {
    let mut index = Index::new();
    let series = node_like_series(10);
    for l in &series {
        index.get_or_create(l).unwrap();
    }
    let per_series = index.heap_bytes() / index.len();
    println!("index: {} series, ~{per_series} heap bytes per series", index.len());
    assert_eq!(index.len(), series.len());
    assert!(per_series < 300, "{per_series} bytes per series");
}

/// Node-exporter-like series: per host, CPU, disk, network, filesystem and plain metrics (1000 per host).
fn node_like_series(hosts: usize) -> Vec<Labels> {
    let mut out = Vec::new();
    for h in 0..hosts {
        let instance = format!("host-{h:03}:9100");
        let mut push = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![("__name__", name), ("instance", &instance), ("job", "node")];
            pairs.extend_from_slice(extra);
            out.push(Labels::from_pairs(pairs).unwrap());
        };
        for cpu in 0..16 {
            let cpu = cpu.to_string();
            for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
                push("node_cpu_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for mode in ["nice", "user"] {
                push("node_cpu_guest_seconds_total", &[("cpu", &cpu), ("mode", mode)]);
            }
            for name in ["node_cpu_scaling_frequency_hertz", "node_cpu_frequency_max_hertz", "node_cpu_online"] {
                push(name, &[("cpu", &cpu)]);
            }
        }
        for d in 0..8 {
            let device = format!("sd{}", (b'a' + d) as char);
            for m in 0..18 {
                push(&format!("node_disk_metric_{m}_total"), &[("device", &device)]);
            }
        }
        for d in 0..8 {
            let device = if d == 0 { "lo".to_string() } else { format!("eth{d}") };
            for m in 0..32 {
                push(&format!("node_network_metric_{m}_bytes_total"), &[("device", &device)]);
            }
        }
        for f in 0..10 {
            let mountpoint = format!("/mnt/volume{f}");
            let device = format!("/dev/nvme0n1p{f}");
            for m in 0..8 {
                let name = format!("node_filesystem_metric_{m}_bytes");
                push(&name, &[("device", &device), ("fstype", "ext4"), ("mountpoint", &mountpoint)]);
            }
        }
        for s in 0..10 {
            let sensor = format!("temp{s}");
            for m in 0..5 {
                push(&format!("node_hwmon_metric_{m}"), &[("chip", "platform_coretemp_0"), ("sensor", &sensor)]);
            }
        }
        for m in 0..262 {
            push(&format!("node_plain_metric_{m}"), &[]);
        }
    }
    out
}

/// Label values used to build random series and matchers. Similar values exercise anchoring and prefixes.
const VALUES: &[&str] = &["", "x", "y", "foo", "foobar", "fo", "bar", "a.b", "axb", "Foo", "x\ny"];

/// Regex patterns for random matchers; all valid.
const PATTERNS: &[&str] = &[
    ".*",
    ".+",
    "",
    "x|y",
    "a|b",
    "foo.*",
    "foo.+",
    "fo*",
    "(x|foo)",
    "x|",
    "(?i)foo",
    "[xy]",
    r"a\.b",
    "f.*r",
    "foo",
    "(?:bar|fo)",
    ".*o",
    "a.b",
];

const NAMES: &[&str] = &["__name__", "a", "b", "c"];

fn series_strategy() -> impl Strategy<Value = Labels> {
    prop::collection::vec(prop::sample::select(VALUES), NAMES.len())
        .prop_map(|values| Labels::from_pairs(NAMES.iter().copied().zip(values)).unwrap())
}

fn matcher_strategy() -> impl Strategy<Value = Matcher> {
    let op = prop::sample::select(vec![MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex]);
    // "z" is a label no series has.
    let name = prop::sample::select(vec!["__name__", "a", "b", "c", "z"]);
    let value = prop_oneof![prop::sample::select(VALUES), prop::sample::select(PATTERNS)];
    (op, name, value).prop_map(|(op, name, value)| matcher(op, name, value))
}

/// The brute-force answer: series whose value of each matcher's label (empty when absent) the matcher accepts.
fn brute_select(model: &BTreeMap<SeriesId, Labels>, matchers: &[Matcher]) -> RoaringBitmap {
    model
        .iter()
        .filter(|(_, l)| matchers.iter().all(|m| m.matches(l.get(m.name()).unwrap_or(""))))
        .map(|(&id, _)| id)
        .collect()
}

fn brute_names(model: &BTreeMap<SeriesId, Labels>, ids: &RoaringBitmap) -> Vec<String> {
    let mut names: Vec<String> =
        ids.iter().filter_map(|id| model.get(&id)).flat_map(|l| l.iter().map(|l| l.name.clone())).collect();
    names.sort();
    names.dedup();
    names
}

fn brute_values(model: &BTreeMap<SeriesId, Labels>, name: &str, ids: &RoaringBitmap) -> Vec<String> {
    let mut values: Vec<String> = ids.iter().filter_map(|id| model.get(&id)?.get(name).map(str::to_string)).collect();
    values.sort();
    values.dedup();
    values
}

/// The model of the index: live series by id, and the next id to hand out.
#[derive(Default)]
struct Model {
    series: BTreeMap<SeriesId, Labels>,
    next: SeriesId,
}

impl Model {
    /// Adds a series to the index and the model, checking the id the index gives it.
    fn add(&mut self, index: &mut Index, l: &Labels) -> Result<(), TestCaseError> {
        let known = self.series.iter().find(|(_, m)| *m == l).map(|(&id, _)| id);
        let (id, created) = index.get_or_create(l).unwrap();
        match known {
            Some(known) => prop_assert_eq!((id, created), (known, false)),
            None => {
                // New series get the next id, never one used before.
                prop_assert_eq!((id, created), (self.next, true));
                self.next += 1;
                self.series.insert(id, l.clone());
            }
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn index_agrees_with_brute_force(
        series in prop::collection::vec(series_strategy(), 0..48),
        removals in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        re_added in prop::collection::vec(series_strategy(), 0..8),
        selectors in prop::collection::vec(prop::collection::vec(matcher_strategy(), 0..4), 1..8),
        subsets in prop::collection::vec(prop::collection::vec(any::<bool>(), 64), 1..4),
    ) {
        let mut index = Index::new();
        let mut model = Model::default();
        for l in &series {
            model.add(&mut index, l)?;
        }
        let mut removed = RoaringBitmap::new();
        for r in &removals {
            if model.next > 0 {
                removed.insert(r.index(model.next as usize) as SeriesId);
            }
        }
        let gone = index.remove(&removed);
        let before = model.series.len();
        model.series.retain(|id, _| !removed.contains(*id));
        prop_assert_eq!(gone as usize, before - model.series.len());
        for l in &re_added {
            model.add(&mut index, l)?;
        }
        let model = model.series;

        prop_assert_eq!(index.len(), model.len());
        prop_assert_eq!(index.all(), &model.keys().copied().collect::<RoaringBitmap>());
        for (&id, l) in &model {
            prop_assert_eq!(index.get(l), Some(id));
            prop_assert_eq!(index.labels(id), Some(l.clone()));
        }
        for matchers in &selectors {
            prop_assert_eq!(index.select(matchers), brute_select(&model, matchers), "{:?}", matchers);
        }
        let mut id_sets: Vec<RoaringBitmap> = subsets
            .iter()
            .map(|bits| bits.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i as SeriesId).collect())
            .collect();
        id_sets.push(index.all().clone());
        id_sets.extend(selectors.iter().map(|m| index.select(m)));
        for ids in &id_sets {
            prop_assert_eq!(strings(index.label_names(ids)), brute_names(&model, ids));
            for name in ["__name__", "a", "b", "c", "z"] {
                prop_assert_eq!(strings(index.label_values(name, ids)), brute_values(&model, name, ids));
            }
        }
    }

}

/// Regex fragments that random patterns are made of: literals, escapes, quantifiers, groups and classes.
const FRAGMENTS: &[&str] = &[
    "a", "b", "fo", "o", "d", "1", ".", "*", "+", "?", "{0,2}", "|", "(", ")", r"\.", r"\d", r"\w", r"\<", r"\-",
    "[ab]", "[(|]", "(?:", "(?i)", "x",
];

/// Strings that random patterns are tried on.
const INPUTS: &[&str] = &[
    "", "a", "b", "fo", "foo", "a.", "ab", "x", "fox", "o", "bx", ".", "(a", "1", "d", "f", "f1", "fd", "A", "-", "|",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn matcher_literal_analysis_is_exact(
        parts in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..8),
        inputs in prop::collection::vec(prop::sample::select(INPUTS), 1..8),
        negative in any::<bool>(),
    ) {
        let pattern: String = parts.concat();
        let op = if negative { MatchOp::NotRegex } else { MatchOp::Regex };
        // Invalid patterns must be rejected with an error, not a panic; they have nothing to compare.
        let Ok(m) = Matcher::new(op, "l", pattern.as_str()) else { return Ok(()) };
        let reference = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        for input in inputs.iter().copied().chain(m.literal_alternatives().into_iter().flatten().map(String::as_str)) {
            let accepted = reference.is_match(input);
            prop_assert_eq!(m.matches(input), accepted != negative, "{:?} on {:?}", pattern, input);
            if let Some(literals) = m.literal_alternatives() {
                prop_assert_eq!(literals.iter().any(|l| l == input), accepted, "{:?} alternatives on {:?}", pattern, input);
            }
            if let Some(prefix) = m.literal_prefix() {
                prop_assert!(!accepted || input.starts_with(prefix), "{:?} prefix {:?} on {:?}", pattern, prefix, input);
            }
        }
        prop_assert_eq!(m.matches_empty(), reference.is_match("") != negative);
    }
}
