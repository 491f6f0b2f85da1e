//! Fixture tests of the `netstat` collector.
