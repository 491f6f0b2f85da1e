//! Fixture tests of the `entropy` collector.
