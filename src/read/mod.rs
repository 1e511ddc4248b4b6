//! Reading extensions: archives (zip, tar.gz) or a bare content XML, from a path or
//! standard input, streaming, with every safety check made before anything is parsed.

pub mod chunks;
pub mod rows;
pub mod tracked;
