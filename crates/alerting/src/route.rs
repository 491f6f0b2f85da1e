//! The routing tree: which routes an alert goes to (depth first, `continue` to keep looking among siblings),
//! each route's effective options after inheritance, and the keys Alertmanager names groups by
//! (`{}/{matchers of each route on the path}:{group labels}`).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::RouteConfig;
use crate::labels::{label_set_string, LabelSet};
use crate::matchers::Matchers;

pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// Index of a route in its tree; the root is 0 and routes are numbered depth first.
pub type RouteId = usize;

/// A route's options once inherited from its parents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteOpts {
    pub receiver: String,
    pub group_by: BTreeSet<String>,
    /// `group_by: ['...']`: every label groups.
    pub group_by_all: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// Never inherited.
    pub mute_time_intervals: Vec<String>,
    /// Never inherited.
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    fn default() -> RouteOpts {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RouteNode {
    pub parent: Option<RouteId>,
    pub matchers: Matchers,
    pub opts: RouteOpts,
    pub continue_matching: bool,
    pub children: Vec<RouteId>,
    /// Alertmanager's `Route.Key()`: the parent's key, `/`, and this route's matchers.
    pub key: String,
}

/// A routing tree built from a validated `route:` section.
#[derive(Clone, Debug)]
pub struct Route {
    nodes: Vec<RouteNode>,
}

impl Route {
    pub fn new(config: &RouteConfig) -> Route {
        let mut route = Route { nodes: Vec::new() };
        route.add(config, None);
        route
    }

    fn add(&mut self, cr: &RouteConfig, parent: Option<RouteId>) -> RouteId {
        let mut opts = parent.map_or_else(RouteOpts::default, |p| self.nodes[p].opts.clone());
        if let Some(r) = cr.receiver_name() {
            opts.receiver = r.to_owned();
        }
        if let Some(g) = &cr.parsed_group_by {
            opts.group_by = g.clone();
            opts.group_by_all = false;
        } else if cr.group_by_all {
            opts.group_by_all = true;
        }
        if let Some(d) = &cr.group_wait {
            opts.group_wait = d.value.0;
        }
        if let Some(d) = &cr.group_interval {
            opts.group_interval = d.value.0;
        }
        if let Some(d) = &cr.repeat_interval {
            opts.repeat_interval = d.value.0;
        }
        opts.mute_time_intervals = cr.mute_time_intervals.iter().map(|m| m.value.clone()).collect();
        opts.active_time_intervals = cr.active_time_intervals.iter().map(|m| m.value.clone()).collect();
        let key = match parent {
            Some(p) => format!("{}/{}", self.nodes[p].key, cr.parsed_matchers),
            None => cr.parsed_matchers.to_string(),
        };
        let id = self.nodes.len();
        self.nodes.push(RouteNode {
            parent,
            matchers: cr.parsed_matchers.clone(),
            opts,
            continue_matching: cr.continues(),
            children: Vec::new(),
            key,
        });
        for child in &cr.routes {
            let c = self.add(&child.value, Some(id));
            self.nodes[id].children.push(c);
        }
        id
    }

    pub fn root(&self) -> &RouteNode {
        &self.nodes[0]
    }

    pub fn node(&self, id: RouteId) -> &RouteNode {
        &self.nodes[id]
    }

    /// Every route, depth first, the root first.
    pub fn nodes(&self) -> &[RouteNode] {
        &self.nodes
    }

    /// The routes an alert with these labels goes to, as Alertmanager's `Route.Match`: a route matches when
    /// its matchers do; then its children are tried in order, stopping after the first that matches unless
    /// that one has `continue`; a route none of whose children match is itself the destination.
    pub fn matches(&self, labels: &LabelSet) -> Vec<RouteId> {
        let mut out = Vec::new();
        self.match_into(0, labels, &mut out);
        out
    }

    fn match_into(&self, id: RouteId, labels: &LabelSet, out: &mut Vec<RouteId>) -> bool {
        let node = &self.nodes[id];
        if !node.matchers.matches(labels) {
            return false;
        }
        let before = out.len();
        for &c in &node.children {
            if self.match_into(c, labels, out) && !self.nodes[c].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(id);
        }
        true
    }

    /// The labels of an alert that name its group on a route: those in `group_by`, or all with `...`.
    pub fn group_labels(&self, id: RouteId, labels: &LabelSet) -> LabelSet {
        let opts = &self.nodes[id].opts;
        labels
            .iter()
            .filter(|(n, _)| opts.group_by_all || opts.group_by.contains(*n))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect()
    }

    /// The group key, byte for byte Alertmanager's: the route key, `:`, and the group labels as Go prints a
    /// `model.LabelSet`.
    pub fn group_key(&self, id: RouteId, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.nodes[id].key, label_set_string(group_labels))
    }
}
