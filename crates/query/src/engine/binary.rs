//! Binary operators: scalar/scalar, vector/scalar and vector/vector with `on`/`ignoring`,
//! `group_left`/`group_right`, `bool`, and the set operators `and`, `or`, `unless`.

use std::collections::{HashMap, HashSet};

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use vigil_model::Labels;

use super::eval::Evaluator;
use super::types::{drop_metadata, EvalSeries, Grid, OutBuilder, StepWalker, Val};
use super::QueryError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn from_token(t: TokenType) -> Result<BinOp, QueryError> {
        Ok(match t.id() {
            token::T_ADD => BinOp::Add,
            token::T_SUB => BinOp::Sub,
            token::T_MUL => BinOp::Mul,
            token::T_DIV => BinOp::Div,
            token::T_MOD => BinOp::Mod,
            token::T_POW => BinOp::Pow,
            token::T_ATAN2 => BinOp::Atan2,
            token::T_EQLC => BinOp::Eq,
            token::T_NEQ => BinOp::Ne,
            token::T_GTR => BinOp::Gt,
            token::T_LSS => BinOp::Lt,
            token::T_GTE => BinOp::Ge,
            token::T_LTE => BinOp::Le,
            token::T_LAND => BinOp::And,
            token::T_LOR => BinOp::Or,
            token::T_LUNLESS => BinOp::Unless,
            _ => return Err(QueryError::Execution(format!("unsupported binary operator {t}"))),
        })
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Lt | BinOp::Ge | BinOp::Le)
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Arithmetic operators change what a sample means, so they drop the metric name.
    pub fn is_arithmetic(self) -> bool {
        !self.is_comparison() && !self.is_set()
    }

    /// The result of `l op r` and, for comparisons, whether the element is kept (its value is then `l`).
    pub fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            BinOp::Add => (l + r, true),
            BinOp::Sub => (l - r, true),
            BinOp::Mul => (l * r, true),
            BinOp::Div => (l / r, true),
            BinOp::Mod => (l % r, true),
            BinOp::Pow => (l.powf(r), true),
            BinOp::Atan2 => (l.atan2(r), true),
            BinOp::Eq => (l, l == r),
            BinOp::Ne => (l, l != r),
            BinOp::Gt => (l, l > r),
            BinOp::Lt => (l, l < r),
            BinOp::Ge => (l, l >= r),
            BinOp::Le => (l, l <= r),
            BinOp::And | BinOp::Or | BinOp::Unless => (f64::NAN, false),
        }
    }
}

/// How the two sides of a vector/vector operation are matched.
struct Matching {
    card: Card,
    /// `on(...)` rather than `ignoring(...)`.
    on: bool,
    labels: Vec<String>,
    /// `group_left(...)`/`group_right(...)` labels copied from the "one" side.
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
}

impl Matching {
    fn from_expr(b: &BinaryExpr) -> Result<Matching, QueryError> {
        let Some(m) = &b.modifier else {
            return Ok(Matching { card: Card::OneToOne, on: false, labels: Vec::new(), include: Vec::new() });
        };
        if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
            return Err(QueryError::BadRequest("fill modifiers are not supported".into()));
        }
        let (card, include) = match &m.card {
            VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => (Card::OneToOne, Vec::new()),
            VectorMatchCardinality::ManyToOne(l) => (Card::ManyToOne, l.labels.clone()),
            VectorMatchCardinality::OneToMany(l) => (Card::OneToMany, l.labels.clone()),
        };
        let (on, mut labels) = match &m.matching {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        labels.sort();
        labels.dedup();
        Ok(Matching { card, on, labels, include })
    }

    /// The join key of a series: the `on` labels, or all labels except `__name__` and the `ignoring` labels.
    fn signature(&self, labels: &Labels) -> String {
        let mut key = String::new();
        let mut add = |name: &str, value: &str| {
            key.push_str(name);
            key.push('\u{ff}');
            key.push_str(value);
            key.push('\u{ff}');
        };
        if self.on {
            for name in &self.labels {
                if let Some(v) = labels.get(name) {
                    add(name, v);
                }
            }
        } else {
            for l in labels.iter() {
                if l.name != METRIC_NAME && self.labels.binary_search(&l.name).is_err() {
                    add(&l.name, &l.value);
                }
            }
        }
        key
    }

    /// The labels a series is matched on, for error messages.
    fn matched_labels(&self, labels: &Labels) -> Labels {
        let mut l = labels.clone();
        if self.on {
            l.retain(|x| self.labels.binary_search(&x.name).is_ok());
        } else {
            l.retain(|x| x.name != METRIC_NAME && self.labels.binary_search(&x.name).is_err());
        }
        l
    }

    /// The labels of a result element from the "many" (or left) side and the "one" side.
    fn result_labels(&self, op: BinOp, many: &Labels, one: &Labels) -> Labels {
        let mut l = many.clone();
        if op.is_arithmetic() {
            drop_metadata(&mut l);
        }
        if self.card == Card::OneToOne {
            if self.on {
                l.retain(|x| self.labels.binary_search(&x.name).is_ok());
            } else {
                for name in &self.labels {
                    l.remove(name);
                }
            }
        }
        for name in &self.include {
            match one.get(name) {
                Some(v) => l.set(name, v),
                None => {
                    l.remove(name);
                }
            }
        }
        l
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr, grid: Grid) -> Result<Val, QueryError> {
        let op = BinOp::from_token(b.op)?;
        let return_bool = b.return_bool();
        let lhs = self.eval(&b.lhs, grid)?;
        let rhs = self.eval(&b.rhs, grid)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.into_iter()
                    .zip(r)
                    .map(|(l, r)| {
                        let (v, keep) = op.apply(l, r);
                        if op.is_comparison() {
                            f64::from(u8::from(keep))
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(v), Val::Scalar(s)) => Ok(Val::Vector(vector_scalar(op, v, &s, grid, false, return_bool))),
            (Val::Scalar(s), Val::Vector(v)) => Ok(Val::Vector(vector_scalar(op, v, &s, grid, true, return_bool))),
            (Val::Vector(l), Val::Vector(r)) => {
                let matching = Matching::from_expr(b)?;
                if op.is_set() {
                    self.set_operation(op, &matching, l, r, grid).map(Val::Vector)
                } else {
                    self.vector_vector(op, &matching, return_bool, l, r, grid).map(Val::Vector)
                }
            }
            (l, r) => Err(QueryError::Execution(format!(
                "binary expression must contain only scalar and instant vector types, got {} and {}",
                l.type_name(),
                r.type_name()
            ))),
        }
    }

    fn set_operation(
        &mut self,
        op: BinOp,
        matching: &Matching,
        lhs: Vec<EvalSeries>,
        rhs: Vec<EvalSeries>,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        let mut ordinals: HashMap<String, usize> = HashMap::new();
        let mut sig_of = |series: &[EvalSeries]| -> Vec<usize> {
            series
                .iter()
                .map(|s| {
                    let n = ordinals.len();
                    *ordinals.entry(matching.signature(&s.labels)).or_insert(n)
                })
                .collect()
        };
        let (lsig, rsig) = (sig_of(&lhs), sig_of(&rhs));
        let mut marks = vec![usize::MAX; ordinals.len()];
        let mut out = OutBuilder::default();
        let (mut lslots, mut rslots) = (vec![usize::MAX; lhs.len()], vec![usize::MAX; rhs.len()]);
        let (lw, rw) = (StepWalker::new(&lhs, grid), StepWalker::new(&rhs, grid));
        for (step, t) in grid.times().enumerate() {
            self.limits.tick()?;
            let (l, r) = (lw.at(t), rw.at(t));
            let emit = |out: &mut OutBuilder, slots: &mut [usize], series: &[EvalSeries], i: usize, v: f64| {
                if slots[i] == usize::MAX {
                    slots[i] = out.slot(series[i].labels.clone(), series[i].drop_name);
                }
                out.push(slots[i], t, v)
            };
            match op {
                BinOp::And | BinOp::Unless => {
                    for &(i, _) in r {
                        marks[rsig[i]] = step;
                    }
                    for &(i, v) in l {
                        if (marks[lsig[i]] == step) == (op == BinOp::And) {
                            emit(&mut out, &mut lslots, &lhs, i, v)?;
                        }
                    }
                }
                _ => {
                    for &(i, v) in l {
                        marks[lsig[i]] = step;
                        emit(&mut out, &mut lslots, &lhs, i, v)?;
                    }
                    for &(i, v) in r {
                        if marks[rsig[i]] != step {
                            emit(&mut out, &mut rslots, &rhs, i, v)?;
                        }
                    }
                }
            }
        }
        Ok(out.finish())
    }

    fn vector_vector(
        &mut self,
        op: BinOp,
        matching: &Matching,
        return_bool: bool,
        lhs: Vec<EvalSeries>,
        rhs: Vec<EvalSeries>,
        grid: Grid,
    ) -> Result<Vec<EvalSeries>, QueryError> {
        // For one-to-many the right side is the "many" side: swap, and swap back when computing values.
        let swapped = matching.card == Card::OneToMany;
        let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
        let mut ordinals: HashMap<String, usize> = HashMap::new();
        let mut sig_of = |series: &[EvalSeries]| -> Vec<usize> {
            series
                .iter()
                .map(|s| {
                    let n = ordinals.len();
                    *ordinals.entry(matching.signature(&s.labels)).or_insert(n)
                })
                .collect()
        };
        let (msig, osig) = (sig_of(&many), sig_of(&one));
        let nsigs = ordinals.len();
        // Per signature: the step it was last set at, and the "one" sample.
        let mut one_at: Vec<(usize, usize, f64)> = vec![(usize::MAX, 0, 0.0); nsigs];
        let mut matched_at = vec![usize::MAX; nsigs];
        let mut group_seen: HashSet<(usize, usize)> = HashSet::new();
        let mut slots: HashMap<(usize, usize), usize> = HashMap::new();
        let mut out = OutBuilder::default();
        let (mw, ow) = (StepWalker::new(&many, grid), StepWalker::new(&one, grid));
        let one_side = if swapped { "left" } else { "right" };
        for (step, t) in grid.times().enumerate() {
            self.limits.tick()?;
            let (m, o) = (mw.at(t), ow.at(t));
            if m.is_empty() || o.is_empty() {
                continue;
            }
            for &(j, v) in o {
                let sig = osig[j];
                if one_at[sig].0 == step {
                    let prev = &one[one_at[sig].1].labels;
                    return Err(QueryError::Execution(format!(
                        "found duplicate series for the match group {} on the {one_side} hand-side of the operation: \
                         [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        matching.matched_labels(&one[j].labels),
                        one[j].labels,
                        prev
                    )));
                }
                one_at[sig] = (step, j, v);
            }
            group_seen.clear();
            for &(i, mv) in m {
                let sig = msig[i];
                let (set_at, j, ov) = one_at[sig];
                if set_at != step {
                    continue;
                }
                let (l, r) = if swapped { (ov, mv) } else { (mv, ov) };
                let (mut value, keep) = op.apply(l, r);
                let slot = match slots.get(&(i, j)) {
                    Some(&s) => s,
                    None => {
                        let labels = matching.result_labels(op, &many[i].labels, &one[j].labels);
                        let s = out.slot(labels, return_bool);
                        slots.insert((i, j), s);
                        s
                    }
                };
                if matching.card == Card::OneToOne {
                    if matched_at[sig] == step {
                        return Err(QueryError::Execution(
                            "multiple matches for labels: many-to-one matching must be explicit \
                             (group_left/group_right)"
                                .into(),
                        ));
                    }
                    matched_at[sig] = step;
                } else if !group_seen.insert((sig, slot)) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches".into(),
                    ));
                }
                if return_bool {
                    value = f64::from(u8::from(keep));
                } else if !keep {
                    continue;
                }
                out.push(slot, t, value)?;
            }
        }
        Ok(out.finish())
    }
}

fn vector_scalar(
    op: BinOp,
    series: Vec<EvalSeries>,
    scalars: &[f64],
    grid: Grid,
    scalar_on_left: bool,
    return_bool: bool,
) -> Vec<EvalSeries> {
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        s.points.retain_mut(|p| {
            let sv = scalars[((p.0 - grid.start) / grid.step) as usize];
            let (l, r) = if scalar_on_left { (sv, p.1) } else { (p.1, sv) };
            let (value, keep) = op.apply(l, r);
            if return_bool {
                p.1 = f64::from(u8::from(keep));
                return true;
            }
            if !keep {
                return false;
            }
            // A comparison keeps the vector element's own value, whichever side it is on.
            if !op.is_comparison() {
                p.1 = value;
            }
            true
        });
        if !s.points.is_empty() {
            s.drop_name |= op.is_arithmetic() || return_bool;
            out.push(s);
        }
    }
    out
}
