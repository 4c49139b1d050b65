//! multilock: named per-subsystem file locks taken in one canonical order.
