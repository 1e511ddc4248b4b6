//! Positions in a file (line, character column, byte offset), counted over the bytes as
//! the reader passes them, and the limit on a single token's length, so that a hostile
//! file cannot make the XML parser hold hundreds of megabytes.

/// A position in a file: 1-based line and character column, and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
    pub offset: u64,
}

impl Pos {
    /// The start of a file.
    pub const START: Pos = Pos {
        line: 1,
        column: 1,
        offset: 0,
    };

    /// Move past `bytes`, which follow this position in the file. This runs over every
    /// byte of a content XML, a few dozen bytes at a time: from one tag to the next, with
    /// (in an export's layout) one line feed a few bytes before the end. So the last line
    /// feed is looked for from the end, the ones before it are counted eight bytes at a
    /// time (in a `u64`), and characters are counted only after the last one.
    pub fn advance(&mut self, bytes: &[u8]) {
        match bytes.iter().rposition(|&b| b == b'\n') {
            None => self.column += count_chars(bytes),
            Some(last) => {
                self.line += 1 + count_newlines(&bytes[..last]);
                self.column = 1 + count_chars(&bytes[last + 1..]);
            }
        }
        self.offset += bytes.len() as u64;
    }
}

/// How many line feeds `bytes` holds.
fn count_newlines(bytes: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut n = 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        let x = u64::from_le_bytes(b) ^ (ONES * u64::from(b'\n'));
        // The high bit of each byte that was a line feed (exact: no carry crosses bytes).
        let hits = !(((x & LOW7) + LOW7) | x | LOW7);
        if hits != 0 {
            // One per byte: summed by a multiplication (the baseline x86-64 target has no
            // `popcnt`).
            n += (hits >> 7).wrapping_mul(ONES) >> 56;
        }
    }
    n + words.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

/// How many characters start in `bytes` (UTF-8 continuation bytes, 10xxxxxx, start none).
fn count_chars(bytes: &[u8]) -> u64 {
    if bytes.is_ascii() {
        return bytes.len() as u64;
    }
    bytes.iter().filter(|&&c| c & 0xC0 != 0x80).count() as u64
}

/// Why reading stopped on an over-long token.
#[derive(Debug)]
pub struct TokenTooLong(pub u64);

impl std::fmt::Display for TokenTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a single element, attribute or text runs over {} bytes",
            self.0
        )
    }
}
impl std::error::Error for TokenTooLong {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_lines_and_character_columns() {
        let mut p = Pos::START;
        p.advance(b"ab\n");
        assert_eq!(
            p,
            Pos {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        p.advance("c–d".as_bytes()); // 5 bytes, 3 characters
        assert_eq!(
            p,
            Pos {
                line: 2,
                column: 4,
                offset: 8
            }
        );
    }

    #[test]
    fn positions_agree_with_a_byte_by_byte_count() {
        // Long enough to cross the 255-byte counting blocks, with multi-byte characters
        // and lines of every length; passed in uneven steps.
        let mut text = String::new();
        for i in 0..2000 {
            text.push_str(&"a–<é>".repeat(i % 97));
            text.push('\n');
        }
        let bytes = text.as_bytes();
        let mut p = Pos::START;
        let mut step = 1usize;
        while (p.offset as usize) < bytes.len() {
            let at = p.offset as usize;
            let to = (at + step).min(bytes.len());
            p.advance(&bytes[at..to]);
            step = step % 700 + 37;
            let done = &bytes[..to];
            let line = 1 + done.iter().filter(|&&b| b == b'\n').count() as u64;
            let tail = done.rsplit(|&b| b == b'\n').next().unwrap_or(done);
            let column = 1 + tail.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64;
            assert_eq!(
                p,
                Pos {
                    line,
                    column,
                    offset: to as u64
                },
                "after {to} bytes"
            );
        }
    }
}
