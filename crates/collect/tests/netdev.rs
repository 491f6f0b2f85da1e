//! Fixture tests of the `netdev` collector.
