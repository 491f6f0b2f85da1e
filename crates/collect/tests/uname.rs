//! Fixture tests of the `uname` collector.
