//! Fixture tests of the `stat` collector.
