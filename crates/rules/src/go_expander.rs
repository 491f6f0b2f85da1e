//! The [`Expander`] on vigil-template: rule labels and annotations as Prometheus expands them (Go
//! `text/template` with Prometheus' functions), parsed templates cached by text, `query` answered by the rule's
//! evaluation through [`TemplateData::query`].

use std::collections::HashMap;
use std::sync::Mutex;

use vigil_template::{prometheus, Env, Functions, Template};

use crate::template::{Expander, TemplateData};

/// How many parsed templates [`GoExpander`] keeps; past that the cache starts over.
const CACHE_CAPACITY: usize = 4096;

/// Expands templates with Go's `text/template` semantics and Prometheus 2.42's template functions.
pub struct GoExpander {
    funcs: Functions,
    /// Parse results by template name and text; failures are cached too, since the text will not change.
    cache: Mutex<HashMap<(String, String), Result<Template, String>>>,
}

impl std::fmt::Debug for GoExpander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoExpander").finish_non_exhaustive()
    }
}

impl GoExpander {
    /// An expander whose `externalURL` and `pathPrefix` functions answer from `external_url`.
    pub fn new(external_url: &str) -> GoExpander {
        GoExpander { funcs: prometheus::functions(external_url), cache: Mutex::new(HashMap::new()) }
    }

    fn parsed(&self, name: &str, text: &str) -> Result<Template, String> {
        let key = (name.to_owned(), text.to_owned());
        if let Some(hit) = self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return hit.clone();
        }
        let parsed = prometheus::parse_rule_template(name, text, &self.funcs).map_err(|e| e.to_string());
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, parsed.clone());
        parsed
    }
}

impl Expander for GoExpander {
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        self.parsed(name, text).map(drop)
    }

    fn expand(&self, name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
        if !crate::template::is_templated(text) {
            return Ok(text.to_owned());
        }
        let template = self.parsed(name, text)?;
        let pairs = |labels: &vigil_model::Labels| {
            labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect::<Vec<(String, String)>>()
        };
        let dot = prometheus::rule_data(pairs(data.labels), pairs(data.external_labels), data.external_url, data.value);
        let field = |name: &str| dot.as_object().and_then(|o| o.field(name)).unwrap_or_default();
        let query = |expr: &str| {
            let samples = (data.query)(expr)?;
            Ok(samples.into_iter().map(|s| prometheus::Sample { labels: pairs(&s.labels), value: s.v }).collect())
        };
        let env = Env::new()
            .var("$labels", field("Labels"))
            .var("$externalLabels", field("ExternalLabels"))
            .var("$externalURL", field("ExternalURL"))
            .var("$value", field("Value"))
            .querier(&query);
        template.execute(&dot, &env).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use vigil_model::Labels;
    use vigil_query::Sample;

    use super::GoExpander;
    use crate::template::{Expander, TemplateData};

    fn expand(text: &str) -> Result<String, String> {
        let labels = Labels::from_pairs([("instance", "db1:9100"), ("job", "node")]).unwrap();
        let external = Labels::from_pairs([("region", "eu")]).unwrap();
        let query =
            |expr: &str| Ok(vec![Sample { labels: Labels::from_pairs([("q", expr)]).unwrap(), t: 1000, v: 42.0 }]);
        let data = TemplateData {
            labels: &labels,
            external_labels: &external,
            external_url: "http://vigil:9090",
            value: 0.5,
            time_ms: 1000,
            query: &query,
        };
        GoExpander::new("http://vigil:9090").expand("__alert_X", text, &data)
    }

    #[test]
    fn prometheus_variables_and_functions_expand() {
        let text = "{{ $labels.instance | stripPort }} of {{ .Labels.job }} in {{ $externalLabels.region }} at \
                    {{ $value | humanizePercentage }} see {{ $externalURL }}{{ $labels.missing }}";
        assert_eq!(expand(text).unwrap(), "db1 of node in eu at 50% see http://vigil:9090");
    }

    #[test]
    fn query_goes_through_the_rule_evaluation() {
        let text = r#"{{ with query "up == 0" }}{{ . | first | label "q" }}={{ . | first | value }}{{ end }}"#;
        assert_eq!(expand(text).unwrap(), "up == 0=42");
    }

    #[test]
    fn errors_name_the_template_as_prometheus_does() {
        let e = GoExpander::new("").check("__alert_X", "{{ $label.x }}").unwrap_err();
        assert_eq!(e, "template: __alert_X:1: undefined variable \"$label\"");
        assert_eq!(expand("plain text").unwrap(), "plain text");
    }
}
