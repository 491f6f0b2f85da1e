//! Fixture tests of the `hwmon` collector.
