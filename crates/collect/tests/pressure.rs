//! Fixture tests of the `pressure` collector.
