//! Integration tests: the `qrpack` binary and the library, end to end, on real files.

mod build;
mod common;
mod inspect;
mod simulate;
mod validate;
