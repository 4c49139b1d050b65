//! Integration tests of failure-rules.
