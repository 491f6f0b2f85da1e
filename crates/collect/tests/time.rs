//! Fixture tests of the `time` collector.
