//! Fixture tests of the `diskstats` collector.
