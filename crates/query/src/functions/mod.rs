//! Pure implementations of PromQL's numeric functions: no labels, no storage, no AST.
//!
//! INTERFACE CONTRACT (the engine calls exactly these; keep the signatures):
//! - `range::RangeFunction::{from_name, eval}`: functions over one series' window of samples
//!   (`rate`, `increase`, `delta`, `irate`, `idelta`, `deriv`, `predict_linear`, `changes`, `resets`,
//!   `double_exponential_smoothing`/`holt_winters`, `*_over_time` incl. `quantile_over_time`, `mad_over_time`,
//!   `present_over_time`, `last_over_time`, `first_over_time`, `ts_of_*_over_time` where Prometheus 3.5 has them).
//!   Also `eval_at` (the evaluation time, which `predict_linear` extrapolates from when there is an offset or `@`)
//!   and `check_args` (Prometheus' error for `double_exponential_smoothing` factors outside (0, 1)).
//! - `element::ElementFunction::{from_name, eval}`: element-wise math and time functions. Also `yields_empty`
//!   (`clamp` with max < min outputs nothing) and `is_time_function` (no argument means `time()`).
//! - `stats`: `quantile`, `KahanSum`, `Variance` (the `stddev`/`stdvar` aggregations), `Mean` (`avg`) shared by
//!   aggregations and `*_over_time`; `CompensatedVariance` and `mad` for `*_over_time`.
//! - `histogram`: `Bucket`, `bucket_quantile` for classic `histogram_quantile`; `bucket_quantile_with_info` also
//!   reports forced monotonicity (Prometheus' info annotation).

pub mod element;
pub mod histogram;
pub mod range;
pub mod stats;
