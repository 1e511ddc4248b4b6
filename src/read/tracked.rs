//! A `BufRead` adapter that knows where the parser is (line, column, byte) and refuses a
//! single token (text or tag) longer than a limit, so that a hostile file cannot make the
//! XML parser buffer hundreds of megabytes.

use std::io::{self, BufRead, Read};

/// A position in a file: 1-based line and character column, and the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
    pub offset: u64,
}

pub struct Tracked<R> {
    inner: R,
    pos: Pos,
    /// Bytes since the last `<` or `>`: the length of the token being read.
    since_markup: u64,
    max_token: u64,
}

impl<R: BufRead> Tracked<R> {
    pub fn new(inner: R, max_token: u64) -> Self {
        Tracked {
            inner,
            pos: Pos {
                line: 1,
                column: 1,
                offset: 0,
            },
            since_markup: 0,
            max_token,
        }
    }

    /// Where the next byte the parser consumes stands.
    pub fn pos(&self) -> Pos {
        self.pos
    }
}

/// The error a [`Tracked`] reader raises for an over-long token.
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

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_markup > self.max_token {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TokenTooLong(self.max_token),
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let amt = amt.min(buf.len());
            for &b in &buf[..amt] {
                match b {
                    b'\n' => {
                        self.pos.line += 1;
                        self.pos.column = 1;
                    }
                    // UTF-8 continuation bytes do not start a character.
                    b if b & 0xC0 == 0x80 => {}
                    _ => self.pos.column += 1,
                }
                if b == b'<' || b == b'>' {
                    self.since_markup = 0;
                } else {
                    self.since_markup += 1;
                }
            }
            self.pos.offset += amt as u64;
        }
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_lines_and_character_columns() {
        let mut t = Tracked::new("ab\nc–d\n".as_bytes(), 100);
        let mut s = String::new();
        t.read_line(&mut s).expect("line");
        assert_eq!(
            t.pos(),
            Pos {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        let mut b = [0u8; 5]; // "c–d" is 5 bytes
        t.read_exact(&mut b).expect("bytes");
        assert_eq!(t.pos().column, 4);
    }

    #[test]
    fn refuses_a_token_over_the_limit() {
        let text = format!("<a>{}</a>", "x".repeat(1000));
        let mut t = Tracked::new(std::io::BufReader::with_capacity(16, text.as_bytes()), 100);
        let mut sink = Vec::new();
        let err = t.read_to_end(&mut sink).expect_err("refused");
        assert!(err.to_string().contains("100 bytes"), "{err}");
        assert!(sink.len() < 200);
    }
}
