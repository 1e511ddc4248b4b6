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
    /// byte of a content XML, a few dozen bytes at a time, so it looks at eight bytes at
    /// once (in a `u64`) instead of branching on each, and counts set bytes with a
    /// multiplication (the baseline x86-64 target has no `popcnt`).
    pub fn advance(&mut self, bytes: &[u8]) {
        let mut newlines = 0u64;
        // Where the last line starts in `bytes`, if a line feed was seen.
        let mut tail = None;
        let mut words = bytes.chunks_exact(8);
        for (i, word) in (&mut words).enumerate() {
            let hits = byte_flags(word_of(word), b'\n');
            if hits != 0 {
                newlines += count_flags(hits);
                tail = Some(i * 8 + (63 - hits.leading_zeros() as usize) / 8 + 1);
            }
        }
        let rest = bytes.len() - words.remainder().len();
        for (i, &c) in words.remainder().iter().enumerate() {
            if c == b'\n' {
                newlines += 1;
                tail = Some(rest + i + 1);
            }
        }
        if let Some(t) = tail {
            self.line += newlines;
            self.column = 1 + count_chars(&bytes[t..]);
        } else {
            self.column += count_chars(bytes);
        }
        self.offset += bytes.len() as u64;
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

fn word_of(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// The high bit of each byte of `w` equal to `b` (exact: no carry crosses bytes).
fn byte_flags(w: u64, b: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = w ^ (ONES * u64::from(b));
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// How many high bits `flags` has set (at most one per byte).
fn count_flags(flags: u64) -> u64 {
    (flags >> 7).wrapping_mul(ONES) >> 56
}

/// How many characters start in `bytes` (UTF-8 continuation bytes, 10xxxxxx, start none).
fn count_chars(bytes: &[u8]) -> u64 {
    let mut n = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = word_of(word);
        let continuations = w & !(w << 1) & HIGH;
        if continuations != 0 {
            n -= count_flags(continuations);
        }
    }
    for &c in words.remainder() {
        if c & 0xC0 == 0x80 {
            n -= 1;
        }
    }
    n
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
