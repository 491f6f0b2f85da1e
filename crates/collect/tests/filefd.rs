//! Fixture tests of the `filefd` collector.
