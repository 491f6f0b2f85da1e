//! The syntax tree of a parsed LogQL query. Regexes and templates are compiled when the query is evaluated;
//! the parser has already checked that they compile.

use vigil_model::Matcher;

/// A whole query: a log query (streams of lines) or a metric query (numbers).
#[derive(Clone, Debug)]
pub enum Expr {
    Log(LogExpr),
    Metric(MetricExpr),
}

/// A stream selector and the pipeline its lines go through.
#[derive(Clone, Debug)]
pub struct LogExpr {
    pub matchers: Vec<Matcher>,
    pub stages: Vec<Stage>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug)]
pub enum Stage {
    LineFilter(LineFilter),
    /// `| json` (empty: every field) or `| json name="path", ...`.
    Json(Vec<(String, String)>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        /// `| logfmt name="key", ...`; empty: every pair.
        fields: Vec<(String, String)>,
    },
    Regexp(String),
    Pattern(String),
    Unpack,
    LabelFilter(LabelFilter),
    LineFormat(String),
    LabelFormat(Vec<LabelFmt>),
    Drop(Vec<LabelSel>),
    Keep(Vec<LabelSel>),
    Decolorize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Match,
    /// `!~`
    NotMatch,
}

/// `|= "a" or "b"`: the line passes a positive filter if any value matches, a negative one if none does.
#[derive(Clone, Debug)]
pub struct LineFilter {
    pub op: LineFilterOp,
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// How a label value is read as a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// A plain float.
    Float,
    /// A Go duration (`250ms`), in seconds.
    Duration,
    /// A size (`1.5KB`, `2MiB`), in bytes.
    Bytes,
}

/// `| status >= 400 and level="error"`.
#[derive(Clone, Debug)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    /// `=`, `!=`, `=~`, `!~` on the label's text.
    String(Matcher),
    /// A numeric, duration or bytes comparison; `value` is in seconds for durations and bytes for sizes.
    Number {
        name: String,
        op: CmpOp,
        conversion: Conversion,
        value: f64,
    },
}

/// One assignment of `| label_format`.
#[derive(Clone, Debug)]
pub enum LabelFmt {
    /// `dst=src`: moves the value of `src` to `dst`.
    Rename { dst: String, src: String },
    /// `dst="{{ template }}"`.
    Template { dst: String, template: String },
}

/// A label of `| drop` and `| keep`, optionally only when it matches (`| drop level="debug"`).
#[derive(Clone, Debug)]
pub struct LabelSel {
    pub name: String,
    pub matcher: Option<Matcher>,
}

/// `| unwrap latency`, `| unwrap duration(latency)`, then label filters on the samples.
#[derive(Clone, Debug)]
pub struct Unwrap {
    pub label: String,
    pub conversion: Conversion,
    pub post_filters: Vec<LabelFilter>,
}

/// The log part of a range aggregation: `{...} | pipeline | unwrap x [5m] offset 1h`.
#[derive(Clone, Debug)]
pub struct LogRange {
    pub log: LogExpr,
    pub range_ns: i64,
    pub offset_ns: i64,
    pub unwrap: Option<Unwrap>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    Rate,
    CountOverTime,
    BytesOverTime,
    BytesRate,
    AbsentOverTime,
    SumOverTime,
    AvgOverTime,
    MinOverTime,
    MaxOverTime,
    StddevOverTime,
    StdvarOverTime,
    QuantileOverTime,
    FirstOverTime,
    LastOverTime,
}

impl RangeOp {
    pub fn from_name(name: &str) -> Option<RangeOp> {
        Some(match name {
            "rate" => RangeOp::Rate,
            "count_over_time" => RangeOp::CountOverTime,
            "bytes_over_time" => RangeOp::BytesOverTime,
            "bytes_rate" => RangeOp::BytesRate,
            "absent_over_time" => RangeOp::AbsentOverTime,
            "sum_over_time" => RangeOp::SumOverTime,
            "avg_over_time" => RangeOp::AvgOverTime,
            "min_over_time" => RangeOp::MinOverTime,
            "max_over_time" => RangeOp::MaxOverTime,
            "stddev_over_time" => RangeOp::StddevOverTime,
            "stdvar_over_time" => RangeOp::StdvarOverTime,
            "quantile_over_time" => RangeOp::QuantileOverTime,
            "first_over_time" => RangeOp::FirstOverTime,
            "last_over_time" => RangeOp::LastOverTime,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RangeOp::Rate => "rate",
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::AbsentOverTime => "absent_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
        }
    }

    /// Whether the operation works on unwrapped values (and so needs `| unwrap`); `rate` takes either.
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::Rate
                | RangeOp::CountOverTime
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::AbsentOverTime
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

impl VectorOp {
    pub fn from_name(name: &str) -> Option<VectorOp> {
        Some(match name {
            "sum" => VectorOp::Sum,
            "avg" => VectorOp::Avg,
            "min" => VectorOp::Min,
            "max" => VectorOp::Max,
            "count" => VectorOp::Count,
            "stddev" => VectorOp::Stddev,
            "stdvar" => VectorOp::Stdvar,
            "topk" => VectorOp::Topk,
            "bottomk" => VectorOp::Bottomk,
            "sort" => VectorOp::Sort,
            "sort_desc" => VectorOp::SortDesc,
            _ => return None,
        })
    }
}

/// `by (a, b)` or `without (a, b)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le)
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupSide {
    Left,
    Right,
}

/// `on (a)` / `ignoring (a)`, optionally `group_left (b)` / `group_right (b)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorMatching {
    pub on: bool,
    pub labels: Vec<String>,
    pub group: Option<(GroupSide, Vec<String>)>,
}

/// An expression whose value is a number per series per step.
#[derive(Clone, Debug)]
pub enum MetricExpr {
    Range {
        op: RangeOp,
        param: Option<f64>,
        range: Box<LogRange>,
        grouping: Option<Grouping>,
    },
    Vector {
        op: VectorOp,
        param: Option<f64>,
        expr: Box<MetricExpr>,
        grouping: Option<Grouping>,
    },
    Binary {
        op: BinOp,
        lhs: Box<MetricExpr>,
        rhs: Box<MetricExpr>,
        return_bool: bool,
        matching: VectorMatching,
    },
    Number(f64),
    /// `vector(1)`: one series without labels.
    Vector1(f64),
}
