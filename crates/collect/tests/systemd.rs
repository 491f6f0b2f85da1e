//! Fixture tests of the `systemd` collector.
