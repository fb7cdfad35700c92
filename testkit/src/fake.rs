//! Placeholder; the fake upstream follows.
