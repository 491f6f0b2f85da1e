//! Vector aggregations (`sum by (a) (...)`, `topk(3, ...)`...): at each step, the series' values grouped by
//! their labels reduced by `by`/`without`.

use std::collections::HashMap;

use vigil_model::Labels;

use super::range::{group_labels, variance};
use super::Series;
use crate::ast::{Grouping, VectorOp};

pub(super) fn eval(
    op: VectorOp,
    param: Option<f64>,
    grouping: Option<&Grouping>,
    input: Vec<Series>,
    n_steps: usize,
) -> Vec<Series> {
    if matches!(op, VectorOp::Sort | VectorOp::SortDesc) {
        return input;
    }
    // Without a grouping clause everything is one group.
    let everything = Grouping { without: false, labels: Vec::new() };
    let grouping = grouping.unwrap_or(&everything);
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_labels(&s.labels, Some(grouping));
        let g = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    if let VectorOp::Topk | VectorOp::Bottomk = op {
        return select_k(op == VectorOp::Topk, param.unwrap_or(1.0) as usize, &groups, input, n_steps);
    }
    let mut out = Vec::with_capacity(groups.len());
    let mut values = Vec::new();
    for (labels, members) in groups {
        let points = (0..n_steps)
            .map(|step| {
                values.clear();
                values.extend(members.iter().filter_map(|&m| input[m].points[step]));
                if values.is_empty() {
                    return None;
                }
                let n = values.len() as f64;
                Some(match op {
                    VectorOp::Sum => values.iter().sum(),
                    VectorOp::Avg => {
                        let mut mean = 0.0;
                        for (i, v) in values.iter().enumerate() {
                            mean += (v - mean) / (i + 1) as f64;
                        }
                        mean
                    }
                    VectorOp::Min => {
                        values.iter().copied().fold(f64::NAN, |m, v| if m.is_nan() || v < m { v } else { m })
                    }
                    VectorOp::Max => {
                        values.iter().copied().fold(f64::NAN, |m, v| if m.is_nan() || v > m { v } else { m })
                    }
                    VectorOp::Count => n,
                    VectorOp::Stddev => variance(values.iter().copied()).sqrt(),
                    VectorOp::Stdvar => variance(values.iter().copied()),
                    VectorOp::Topk | VectorOp::Bottomk | VectorOp::Sort | VectorOp::SortDesc => f64::NAN,
                })
            })
            .collect();
        out.push(Series { labels, points });
    }
    out
}

/// `topk`/`bottomk`: the input series keep their labels and only the points where they ranked in the first
/// `k` of their group. NaN ranks last either way, as in Prometheus.
// Steps index several parallel vectors; a range loop reads clearest.
#[allow(clippy::needless_range_loop)]
fn select_k(top: bool, k: usize, groups: &[(Labels, Vec<usize>)], input: Vec<Series>, n_steps: usize) -> Vec<Series> {
    let mut keep = vec![vec![false; n_steps]; input.len()];
    let mut ranked: Vec<(usize, f64)> = Vec::new();
    for (_, members) in groups {
        for step in 0..n_steps {
            ranked.clear();
            ranked.extend(members.iter().filter_map(|&m| input[m].points[step].map(|v| (m, v))));
            ranked.sort_by(|a, b| {
                let (x, y) = (a.1, b.1);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if top => y.total_cmp(&x),
                    _ => x.total_cmp(&y),
                }
            });
            for &(m, _) in ranked.iter().take(k) {
                keep[m][step] = true;
            }
        }
    }
    input
        .into_iter()
        .zip(keep)
        .filter_map(|(mut s, keep)| {
            for (p, k) in s.points.iter_mut().zip(&keep) {
                if !k {
                    *p = None;
                }
            }
            s.points.iter().any(Option::is_some).then_some(s)
        })
        .collect()
}
