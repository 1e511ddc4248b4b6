//! Offline simulation of what QRadar would do with an event, following a pack's own
//! declarations: device event id and category, QID mapping, custom properties, rules
//! and saved searches.

pub mod aql;
pub mod cases;
pub mod custom;
pub mod engine;
pub mod lint;
pub mod records;
pub mod scan;
pub mod tape;
