//! Fixture tests of the `sockstat` collector.
