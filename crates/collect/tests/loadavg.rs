//! Fixture tests of the `loadavg` collector.
