//! Fixture tests of the `conntrack` collector.
