//! Fixture tests of the `vmstat` collector.
