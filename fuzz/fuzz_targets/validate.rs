//! Arbitrary bytes through `validate_reader`: the input sniffing, the zip and tar.gz
//! readers with their safety checks, the manifest check, the streaming XML reader and
//! every row check. Any panic, abort, timeout or out-of-memory is a bug; findings and
//! `Err` (could not run) are both fine.

#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use qrpack::catalogue::Catalogue;
use qrpack::validate::{ArchiveLimits, Options, validate_reader};

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        catalogue: Catalogue::builtin(),
        catalogue_is_authoritative: false,
        limits: ArchiveLimits::default(),
        keep_rows: false,
    };
    let _ = validate_reader(Cursor::new(data), "fuzz", &opts);
});
