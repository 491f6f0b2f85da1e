//! Fixture tests of the `tcpstat` collector.
