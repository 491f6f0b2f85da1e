//! Evaluating Prometheus label matchers over postings, shared by the head's index and the blocks' indexes:
//! how each matcher finds its values (its plan), and in which order the matchers are applied.

use roaring::RoaringBitmap;
use vigil_model::{MatchOp, Matcher};

/// How the values a matcher wants are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan<'m> {
    /// Exact lookups of these values.
    Lookup(&'m [String]),
    /// A scan of the values with this prefix.
    Prefix(&'m str),
    /// A scan of every value of the name.
    Scan,
}

/// When `select` checks candidate series one by one instead of reading postings (a knob for tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    /// When the cost estimate says it is cheaper.
    Auto,
    #[cfg(test)]
    Never,
    #[cfg(test)]
    Always,
}

/// An index that matchers can be evaluated over.
pub(crate) trait Postings {
    type Error;

    /// Every series.
    fn all(&self) -> RoaringBitmap;

    /// How many values label `name` has.
    fn value_count(&self, name: &str) -> Result<u64, Self::Error>;

    /// The union of the postings of the values `v` of the matcher's label with `m.matches(v) == want`.
    fn values_where(&self, m: &Matcher, want: bool, plan: Plan) -> Result<RoaringBitmap, Self::Error>;

    /// Keeps the candidates whose value of the matcher's label (empty if absent) the matcher accepts.
    fn filter_series(&self, candidates: RoaringBitmap, m: &Matcher) -> Result<RoaringBitmap, Self::Error>;
}

/// The series every matcher accepts, with Prometheus semantics: a series lacking a label is matched as if its
/// value were empty. With no matchers, every series.
///
/// A matcher that rejects the empty string selects series by the values it accepts; one that accepts it
/// selects every series except those whose value it rejects. Each is planned with the cheapest way to find
/// those values; lookups are applied first (smallest first), scans next, and subtractions last.
pub(crate) fn select<P: Postings>(index: &P, matchers: &[Matcher], filter: Filter) -> Result<RoaringBitmap, P::Error> {
    let mut planned: Vec<(bool, Plan, &Matcher)> = matchers
        .iter()
        .map(|m| {
            let want = !m.matches_empty();
            (!want, plan(m, want), m)
        })
        .collect();
    planned.sort_by_key(|&(subtract, plan, _)| (subtract, plan_rank(plan)));

    let mut lookups = Vec::new();
    for &(_, plan, m) in planned.iter().filter(|(subtract, plan, _)| !subtract && matches!(plan, Plan::Lookup(_))) {
        lookups.push(index.values_where(m, true, plan)?);
    }
    lookups.sort_by_key(RoaringBitmap::len);
    let mut result: Option<RoaringBitmap> = None;
    for ids in lookups {
        result = Some(match result {
            None => ids,
            Some(r) => r & ids,
        });
    }

    for &(subtract, plan, m) in
        planned.iter().filter(|(subtract, plan, _)| *subtract || !matches!(plan, Plan::Lookup(_)))
    {
        if result.as_ref().is_some_and(RoaringBitmap::is_empty) {
            break;
        }
        result = Some(match result {
            Some(r) if should_filter(index, &r, m, plan, filter)? => index.filter_series(r, m)?,
            Some(r) if subtract => r - index.values_where(m, false, plan)?,
            Some(r) => r & index.values_where(m, true, plan)?,
            None if subtract => index.all() - index.values_where(m, false, plan)?,
            None => index.values_where(m, true, plan)?,
        });
    }
    Ok(result.unwrap_or_else(|| index.all()))
}

/// Whether checking each candidate's value is cheaper than reading the postings of the wanted values.
/// Checking a candidate costs about one regex match; a scan costs a match per value and a union of their
/// postings, so a full scan is worth avoiding for candidates up to several times the number of values.
fn should_filter<P: Postings>(
    index: &P,
    candidates: &RoaringBitmap,
    m: &Matcher,
    plan: Plan,
    filter: Filter,
) -> Result<bool, P::Error> {
    let auto = |index: &P| -> Result<bool, P::Error> {
        Ok(match plan {
            Plan::Lookup(_) => false,
            Plan::Prefix(_) => candidates.len() < index.value_count(m.name())?,
            Plan::Scan => candidates.len() < 16 * index.value_count(m.name())?,
        })
    };
    match filter {
        Filter::Auto => auto(index),
        #[cfg(test)]
        Filter::Never => Ok(false),
        #[cfg(test)]
        Filter::Always => Ok(true),
    }
}

/// The cheapest way to find the values `v` with `m.matches(v) == want`. Literal analysis describes the
/// positive form of the matcher (`=` or `=~`), so it helps when `want` asks for what that form accepts.
pub(crate) fn plan(m: &Matcher, want: bool) -> Plan<'_> {
    if want == m.op().is_negative() {
        return Plan::Scan;
    }
    if let Some(literals) = m.literal_alternatives() {
        return Plan::Lookup(literals);
    }
    match (m.op(), m.literal_prefix()) {
        (MatchOp::Regex | MatchOp::NotRegex, Some(prefix)) => Plan::Prefix(prefix),
        _ => Plan::Scan,
    }
}

fn plan_rank(plan: Plan) -> u8 {
    match plan {
        Plan::Lookup(_) => 0,
        Plan::Prefix(_) => 1,
        Plan::Scan => 2,
    }
}
