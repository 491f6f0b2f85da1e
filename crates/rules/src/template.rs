//! The seam to the template engine: alert labels and annotations are Go `text/template` templates, expanded by
//! an [`Expander`]: [`crate::GoExpander`] in vigil, [`PlainExpander`] in tests that want templates left as
//! written.

use vigil_model::Labels;
use vigil_query::Sample;

/// Evaluates a PromQL query at the alert's evaluation time (for the `query` template function). Scalars come back
/// as one sample without labels, as rule queries do.
pub type QueryFn<'a> = dyn Fn(&str) -> Result<Vec<Sample>, String> + 'a;

/// What a template of an alerting rule sees, for one element of the rule's result.
///
/// Prometheus prefixes every template with `{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
/// {{$externalURL := .ExternalURL}}{{$value := .Value}}` (on the template's first line, so line numbers in errors
/// are the user's): an expander must make those four variables available the same way.
pub struct TemplateData<'a> {
    /// The labels of the result element (`.Labels`, `$labels`), including `__name__` if it has one.
    pub labels: &'a Labels,
    /// The server's external labels (`.ExternalLabels`, `$externalLabels`).
    pub external_labels: &'a Labels,
    /// The server's external URL (`.ExternalURL`, `$externalURL`).
    pub external_url: &'a str,
    /// The element's value (`.Value`, `$value`).
    pub value: f64,
    /// The evaluation time, milliseconds since the epoch; `query` evaluates there.
    pub time_ms: i64,
    pub query: &'a QueryFn<'a>,
}

/// A template engine as alerting rules use it. `name` is the template's name, `__alert_<alertname>` as in
/// Prometheus, which error messages mention (`template: __alert_X:1: undefined variable "$label"`).
pub trait Expander: Send + Sync {
    /// Checks that `text` parses, as `promtool check rules` does for alerting rules' labels and annotations.
    fn check(&self, name: &str, text: &str) -> Result<(), String>;

    /// Expands `text` for one alert. On error, the rule uses `<error expanding template: ERROR>` as the value,
    /// as Prometheus does.
    fn expand(&self, name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String>;

    /// False for an expander that leaves templates as written ([`PlainExpander`]): rule unit tests whose outcome
    /// depends on expanded templates are then skipped rather than failed.
    fn expands_templates(&self) -> bool {
        true
    }
}

/// Accepts every template and expands each to its own text. For tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainExpander;

impl Expander for PlainExpander {
    fn check(&self, _name: &str, _text: &str) -> Result<(), String> {
        Ok(())
    }

    fn expand(&self, _name: &str, text: &str, _data: &TemplateData<'_>) -> Result<String, String> {
        Ok(text.to_owned())
    }

    fn expands_templates(&self) -> bool {
        false
    }
}

/// Whether `text` contains template actions at all (`{{`); text without them expands to itself in any engine.
pub fn is_templated(text: &str) -> bool {
    text.contains("{{")
}
