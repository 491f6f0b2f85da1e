//! Fixture tests of the `netclass` collector.
