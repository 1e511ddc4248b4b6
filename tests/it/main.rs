//! Integration tests: the `qrpack` binary and the library, end to end, on real files.

mod build;
mod ci_doc;
mod cli;
mod common;
mod custom_dsm;
mod diff;
mod inspect;
mod progress;
mod release;
mod scaffold;
mod schema;
mod simulate;
mod tooling;
mod validate;
