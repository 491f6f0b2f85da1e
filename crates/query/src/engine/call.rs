//! Function calls: dispatch to the function library (range and element-wise functions) and the functions that
//! work on labels or vector structure, which live here and in `labels_fns.rs` / `histogram_quantile.rs`.

use promql_parser::parser::{Call, Expr};

use super::eval::Evaluator;
use super::parallel::map_series;
use super::parse::unparen;
use super::selector::{with_labels, RangeArg, WindowCursor, WindowSpec};
use super::types::{EvalSeries, Grid, Val};
use super::QueryError;
use crate::functions::element::ElementFunction;
use crate::functions::range::{CounterResets, RangeFunction};

impl Evaluator<'_> {
    pub(crate) fn eval_call(&mut self, call: &Call, grid: Grid) -> Result<Val, QueryError> {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|a| unparen(a)).collect();
        match name {
            "time" => return Ok(Val::Scalar(grid.times().map(|t| t as f64 / 1000.0).collect())),
            "pi" => return Ok(Val::Scalar(vec![std::f64::consts::PI; grid.len()])),
            "vector" => {
                let values = self.eval_scalar(arg(&args, 0)?, grid)?;
                let points = grid.times().zip(values).collect();
                return Ok(Val::Vector(vec![EvalSeries { labels: Default::default(), drop_name: false, points }]));
            }
            "scalar" => return self.eval_scalar_fn(arg(&args, 0)?, grid),
            "timestamp" => return self.eval_timestamp(arg(&args, 0)?, grid),
            "absent" => return self.eval_absent(arg(&args, 0)?, grid),
            "absent_over_time" => return self.eval_absent_over_time(arg(&args, 0)?, grid),
            "label_replace" => return self.eval_label_replace(&args, grid),
            "label_join" => return self.eval_label_join(&args, grid),
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => return self.eval_sort(name, &args, grid),
            "histogram_quantile" => return self.eval_histogram_quantile(&args, grid),
            // Native histograms are not stored: these functions ignore float samples, so they return nothing.
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
                self.eval(arg(&args, 0)?, grid)?.into_vector()?;
                return Ok(Val::Vector(Vec::new()));
            }
            "histogram_fraction" => return self.eval_histogram_fraction(&args, grid),
            _ => {}
        }
        if let Some(i) = args.iter().position(|a| matches!(a, Expr::MatrixSelector(_) | Expr::Subquery(_))) {
            let f = RangeFunction::from_name(name).ok_or_else(|| unsupported(name))?;
            return self.eval_range_function(f, name, &args, i, grid).map(Val::Vector);
        }
        let f = ElementFunction::from_name(name).ok_or_else(|| unsupported(name))?;
        if args.is_empty() && f.is_time_function() {
            let points = grid.times().map(|t| (t, f.eval(t as f64 / 1000.0, &[]))).collect();
            return Ok(Val::Vector(vec![EvalSeries { labels: Default::default(), drop_name: false, points }]));
        }
        self.eval_element_function(f, &args, grid).map(Val::Vector)
    }

    fn eval_scalar_args(&mut self, args: &[&Expr], skip: usize, grid: Grid) -> Result<Vec<Vec<f64>>, QueryError> {
        let mut out = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i != skip {
                out.push(self.eval_scalar(a, grid)?);
            }
        }
        Ok(out)
    }

    fn eval_element_function(
        &mut self,
        f: ElementFunction,
        args: &[&Expr],
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let scalars = self.eval_scalar_args(args, 0, grid)?;
        let mut series = self.eval(arg(args, 0)?, grid)?.into_vector()?;
        let mut argv = vec![0.0; scalars.len()];
        for s in &mut series {
            self.limits.tick()?;
            s.drop_name = true;
            s.points.retain_mut(|p| {
                let step = ((p.0 - grid.start) / grid.step) as usize;
                for (a, values) in argv.iter_mut().zip(&scalars) {
                    *a = values[step];
                }
                if f.yields_empty(&argv) {
                    return false;
                }
                p.1 = f.eval(p.1, &argv);
                true
            });
        }
        series.retain(|s| !s.points.is_empty());
        Ok(series)
    }

    fn eval_range_function(
        &mut self,
        f: RangeFunction,
        name: &str,
        args: &[&Expr],
        range_index: usize,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let scalars = self.eval_scalar_args(args, range_index, grid)?;
        if name == "quantile_over_time" {
            if let Some(phi) = scalars.first() {
                self.warn_quantile_range(phi);
            }
        }
        let keeps_name = matches!(name, "last_over_time" | "first_over_time");
        // Each input series' labels and name-removal mark with the function's points.
        let results: Vec<EvalSeries> = match unparen(args[range_index]) {
            Expr::MatrixSelector(ms) => match self.downsampling(f, ms, grid)? {
                Some(plan) => self.eval_downsampled(ms, grid, plan)?,
                None => {
                    // Read, evaluate and drop one series at a time, on every core: the selection is never held.
                    let (selected, spec) = self.select_matrix(ms, grid)?;
                    let budget = self.limits.budget();
                    let evaluated = map_series(&selected, &budget, self.threads, |_, samples| {
                        let points = range_points(f, spec, grid, &scalars, samples)?;
                        budget.take(points.len())?;
                        Ok((!points.is_empty()).then_some(points))
                    })?;
                    with_labels(selected, evaluated)
                }
            },
            other => {
                let input = self.load_range_arg(other, grid)?;
                let spec = input.spec();
                let mut out = Vec::with_capacity(input.series.len());
                let mut produced = 0usize;
                for s in input.series {
                    self.limits.tick()?;
                    let points = range_points(f, spec, grid, &scalars, &s.points)?;
                    produced += points.len();
                    self.limits.check(produced)?;
                    if !points.is_empty() {
                        out.push(EvalSeries { points, ..s });
                    }
                }
                out
            }
        };
        let mut non_counter: Option<String> = None;
        if matches!(name, "rate" | "increase") {
            non_counter = results.iter().find_map(|s| {
                let metric = s.labels.metric_name()?;
                let counter_like =
                    ["_total", "_sum", "_count", "_bucket"].iter().any(|suffix| metric.ends_with(suffix));
                (!counter_like).then(|| metric.to_string())
            });
        }
        let out = results.into_iter().map(|s| EvalSeries { drop_name: !keeps_name || s.drop_name, ..s }).collect();
        if let Some(metric) = non_counter {
            self.annotations.info(format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
            ));
        }
        Ok(out)
    }

    pub(crate) fn warn_quantile_range(&mut self, phi: &[f64]) {
        if let Some(&q) = phi.iter().find(|q| q.is_nan() || **q < 0.0 || **q > 1.0) {
            self.annotations
                .warn(format!("quantile value should be between 0 and 1, got {}", super::aggregate::go_float(q)));
        }
    }

    fn eval_scalar_fn(&mut self, e: &Expr, grid: Grid) -> Result<Val, QueryError> {
        let series = self.eval(e, grid)?.into_vector()?;
        let mut values = vec![f64::NAN; grid.len()];
        let mut counts = vec![0u32; grid.len()];
        for s in &series {
            for &(t, v) in &s.points {
                let step = ((t - grid.start) / grid.step) as usize;
                counts[step] += 1;
                values[step] = v;
            }
        }
        for (v, n) in values.iter_mut().zip(counts) {
            if n != 1 {
                *v = f64::NAN;
            }
        }
        Ok(Val::Scalar(values))
    }

    fn eval_timestamp(&mut self, e: &Expr, grid: Grid) -> Result<Val, QueryError> {
        let mut series = match e {
            Expr::VectorSelector(vs) => self.eval_vector_selector_with(vs, grid, true)?,
            other => {
                let mut series = self.eval(other, grid)?.into_vector()?;
                for p in series.iter_mut().flat_map(|s| s.points.iter_mut()) {
                    p.1 = p.0 as f64 / 1000.0;
                }
                series
            }
        };
        for s in &mut series {
            s.drop_name = true;
        }
        Ok(Val::Vector(series))
    }

    fn eval_absent(&mut self, e: &Expr, grid: Grid) -> Result<Val, QueryError> {
        let series = self.eval(e, grid)?.into_vector()?;
        let mut present = vec![false; grid.len()];
        for s in &series {
            for p in &s.points {
                present[((p.0 - grid.start) / grid.step) as usize] = true;
            }
        }
        Ok(Val::Vector(absent_series(e, grid, &present)))
    }

    fn eval_absent_over_time(&mut self, e: &Expr, grid: Grid) -> Result<Val, QueryError> {
        let input: RangeArg = self.load_range_arg(e, grid)?;
        let mut present = vec![false; grid.len()];
        for s in &input.series {
            self.limits.tick()?;
            let mut cursor = WindowCursor::default();
            for (step, t) in grid.times().enumerate() {
                let end = input.window_end(t);
                if !cursor.window(&s.points, end.saturating_sub(input.range), end).is_empty() {
                    present[step] = true;
                }
            }
        }
        Ok(Val::Vector(absent_series(e, grid, &present)))
    }
}

/// A range function evaluated over the windows of one series (staleness markers removed) ending at every grid
/// step; steps whose window is empty or that give no value have no point.
pub(crate) fn range_points(
    f: RangeFunction,
    spec: WindowSpec,
    grid: Grid,
    scalars: &[Vec<f64>],
    samples: &[(i64, f64)],
) -> Result<Vec<(i64, f64)>, QueryError> {
    let resets = f.uses_counter_resets().then(|| CounterResets::find(samples));
    let mut argv = vec![0.0; scalars.len()];
    let mut cursor = WindowCursor::default();
    let mut points = Vec::new();
    for (step, t) in grid.times().enumerate() {
        let end = spec.window_end(t);
        let start = end.saturating_sub(spec.range);
        let window = cursor.window_range(samples, start, end);
        if window.is_empty() {
            continue;
        }
        for (a, values) in argv.iter_mut().zip(scalars) {
            *a = values[step];
        }
        f.check_args(&argv).map_err(QueryError::Execution)?;
        if let Some(v) = f.eval_in_series(samples, window, (start, end), &argv, t, resets.as_ref()) {
            points.push((t, v));
        }
    }
    Ok(points)
}

/// The one series `absent()` returns, with a point at every step where nothing was `present`. Its labels come
/// from the equality matchers of a selector argument.
fn absent_series(e: &Expr, grid: Grid, present: &[bool]) -> Vec<EvalSeries> {
    let points: Vec<(i64, f64)> = grid.times().zip(present).filter(|(_, p)| !**p).map(|(t, _)| (t, 1.0)).collect();
    if points.is_empty() {
        return Vec::new();
    }
    let vs = match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = vigil_model::Labels::default();
    if let Some(vs) = vs {
        let mut has: Vec<&str> = Vec::new();
        for m in &vs.matchers.matchers {
            if m.name == vigil_model::METRIC_NAME {
                continue;
            }
            if matches!(m.op, promql_parser::label::MatchOp::Equal) && !has.contains(&m.name.as_str()) {
                labels.set(&m.name, &m.value);
                has.push(&m.name);
            } else {
                labels.remove(&m.name);
            }
        }
    }
    vec![EvalSeries { labels, drop_name: false, points }]
}

pub(crate) fn arg<'e>(args: &[&'e Expr], i: usize) -> Result<&'e Expr, QueryError> {
    args.get(i).copied().ok_or_else(|| QueryError::Execution(format!("missing argument {}", i + 1)))
}

fn unsupported(name: &str) -> QueryError {
    QueryError::Execution(format!("function {name:?} is not supported"))
}
