//! qrpack: build, validate and test IBM QRadar content extensions.
//!
//! Data flows one way: pack spec ([`spec`]) → content model ([`content`]) → XML
//! ([`xml`], [`rule`]) → archive ([`archive`]). Commands live in [`commands`]; the
//! binary only parses arguments and maps outcomes to exit codes.

pub mod archive;
pub mod build;
pub mod catalogue;
pub mod cli;
pub mod codes;
pub mod commands;
pub mod content;
pub mod custom_dsm;
pub mod device_ext;
pub mod diag;
pub mod diff;
pub mod inspect;
pub mod jsonpath;
pub mod lock;
pub mod manifest;
pub mod progress;
pub mod read;
pub mod release;
pub mod report;
pub mod rule;
pub mod scaffold;
pub mod schema;
pub mod simulate;
pub mod spec;
pub mod validate;
pub mod xml;

/// A hash map with foldhash's fixed-seed hasher: fast on the short strings the build
/// keys by, and the same on every run (nothing iterates one where order shows, but a
/// fixed seed keeps even the timing of a build reproducible).
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
