//! The values a PromQL expression evaluates to.

use vigil_model::Labels;

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector (a matrix): points sorted by time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(milliseconds since the Unix epoch, value)`, ascending by time.
    pub points: Vec<(i64, f64)>,
}

/// The result of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, s: String },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}
