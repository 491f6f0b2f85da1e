//! Fixture tests of the `filesystem` collector.
