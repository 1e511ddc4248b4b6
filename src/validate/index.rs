//! The indexes the checks across rows keep: one small fixed-size record per row (64-bit
//! hashes of names, numbers, packed positions), sorted once every row has been read.
//!
//! An index keeps up to [`BUDGET`] bytes of records in memory. Past that (a large export)
//! it sorts them and writes them as a *run* to an anonymous temporary file, and at the
//! end merges the runs back in order, reading each through a small buffer. So memory
//! stays flat however many rows an export holds; the disk holds the records instead
//! (tens of bytes per row). Without a file (it cannot be created or written) the records
//! stay in memory: slower to nothing, only memory grows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// A record: `N` 64-bit fields, ordered field by field.
pub type Rec<const N: usize> = [u64; N];

/// Bytes of records an index keeps in memory before it writes a run (the checker has 14
/// indexes: at most 7 MiB together).
const BUDGET: usize = 512 << 10;
/// Runs merged at once; past this many, they are first merged into one on disk.
const FAN_IN: usize = 32;
/// The read buffer of each run while merging.
const RUN_BUF: usize = 32 << 10;

/// A signed number as a field that sorts in the number's order.
pub fn signed(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// The number [`signed`] made a field of.
pub fn unsigned(f: u64) -> i64 {
    (f ^ (1 << 63)) as i64
}

/// One index, in memory or spilled to disk.
pub struct Index<const N: usize> {
    mem: Vec<Rec<N>>,
    /// May write runs to disk (else everything stays in memory).
    spill: bool,
    disk: Option<Disk>,
}

/// Sorted runs of records in one file, one after another.
struct Disk {
    file: File,
    /// (byte offset, record count) of each run.
    runs: Vec<(u64, u64)>,
    /// Where the next write goes.
    end: u64,
}

impl Disk {
    /// Write `records` at the end of the file; returns where they start.
    fn write<const N: usize>(&mut self, records: &[Rec<N>]) -> io::Result<u64> {
        let mut bytes = Vec::with_capacity(records.len() * 8 * N);
        for r in records {
            for f in r {
                bytes.extend_from_slice(&f.to_le_bytes());
            }
        }
        let start = self.end;
        let mut f = &self.file;
        f.seek(SeekFrom::Start(start))?;
        f.write_all(&bytes)?;
        self.end += bytes.len() as u64;
        Ok(start)
    }
}

impl<const N: usize> Index<N> {
    const SIZE: usize = 8 * N;

    /// An index that keeps everything in memory.
    pub fn in_memory() -> Self {
        Index {
            mem: Vec::new(),
            spill: false,
            disk: None,
        }
    }

    /// An index that writes runs to a temporary file past its memory budget.
    pub fn spilling() -> Self {
        Index {
            spill: true,
            ..Self::in_memory()
        }
    }

    pub fn push(&mut self, r: Rec<N>) {
        if self.spill && self.mem.len() == self.mem.capacity() {
            if self.mem.len() * Self::SIZE >= BUDGET {
                if self.write_run().is_err() {
                    // No disk to spill to: keep the records in memory from now on.
                    self.spill = false;
                }
            } else {
                // Grow as usual, but never past the budget (no doubling beyond it).
                let cap = (self.mem.capacity() * 2).clamp(64, BUDGET / Self::SIZE);
                self.mem.reserve_exact(cap - self.mem.len());
            }
        }
        self.mem.push(r);
    }

    /// Sort what is in memory and append it to the file as a run; past [`FAN_IN`] runs,
    /// merge them into one first.
    fn write_run(&mut self) -> io::Result<()> {
        if self.disk.is_none() {
            self.disk = Some(Disk {
                file: tempfile::tempfile()?,
                runs: Vec::new(),
                end: 0,
            });
        }
        let Some(disk) = self.disk.as_mut() else {
            return Ok(());
        };
        if disk.runs.len() >= FAN_IN {
            let count = disk.runs.iter().map(|r| r.1).sum();
            let mut merge = Merge::<N>::new(Vec::new(), &disk.runs, &disk.file)?;
            // The merged run goes after the others (their space is not reused).
            let start = disk.end;
            let mut out = Vec::with_capacity(BUDGET / Self::SIZE);
            while let Some(r) = merge.next_rec(&disk.file)? {
                out.push(r);
                if out.len() * Self::SIZE >= BUDGET {
                    disk.write(&out)?;
                    out.clear();
                }
            }
            disk.write(&out)?;
            disk.runs = vec![(start, count)];
        }
        self.mem.sort_unstable();
        let start = disk.write(&self.mem)?;
        disk.runs.push((start, self.mem.len() as u64));
        self.mem.clear();
        Ok(())
    }

    /// Every record, in order. Errors only when a run written to disk cannot be read
    /// back.
    pub fn sorted(mut self) -> io::Result<Sorted<N>> {
        self.mem.sort_unstable();
        match self.disk {
            None => Ok(Sorted {
                merge: Merge::memory(self.mem),
                file: None,
            }),
            Some(disk) => Ok(Sorted {
                merge: Merge::new(self.mem, &disk.runs, &disk.file)?,
                file: Some(disk.file),
            }),
        }
    }
}

/// A k-way merge of sorted runs on disk and sorted records in memory.
struct Merge<const N: usize> {
    memory: std::vec::IntoIter<Rec<N>>,
    /// Per run: the next offset to read, the records left to read, and records read
    /// but not handed out yet.
    runs: Vec<(u64, u64, VecDeque<Rec<N>>)>,
    /// The smallest pending record of each source (`usize::MAX` is the memory).
    heap: BinaryHeap<Reverse<(Rec<N>, usize)>>,
}

impl<const N: usize> Merge<N> {
    /// Records in memory only.
    fn memory(mem: Vec<Rec<N>>) -> Self {
        Merge {
            memory: mem.into_iter(),
            runs: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    fn new(mem: Vec<Rec<N>>, runs: &[(u64, u64)], file: &File) -> io::Result<Self> {
        let mut m = Merge {
            memory: mem.into_iter(),
            runs: runs
                .iter()
                .map(|&(at, n)| (at, n, VecDeque::new()))
                .collect(),
            heap: BinaryHeap::new(),
        };
        if !m.runs.is_empty() {
            if let Some(r) = m.memory.next() {
                m.heap.push(Reverse((r, usize::MAX)));
            }
            for i in 0..m.runs.len() {
                if let Some(r) = m.pop_run(i, file)? {
                    m.heap.push(Reverse((r, i)));
                }
            }
        }
        Ok(m)
    }

    /// The next record of run `i`, reading a block when its buffer is empty.
    fn pop_run(&mut self, i: usize, file: &File) -> io::Result<Option<Rec<N>>> {
        let (at, left, buf) = &mut self.runs[i];
        if buf.is_empty() && *left > 0 {
            let size = 8 * N as u64;
            let n = (*left).min((RUN_BUF as u64 / size).max(1));
            let mut bytes = vec![0u8; (n * size) as usize];
            let mut f = file;
            f.seek(SeekFrom::Start(*at))?;
            f.read_exact(&mut bytes)?;
            for rec in bytes.chunks_exact(size as usize) {
                let mut r = [0u64; N];
                for (k, field) in rec.chunks_exact(8).enumerate() {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(field);
                    r[k] = u64::from_le_bytes(b);
                }
                buf.push_back(r);
            }
            *at += n * size;
            *left -= n;
        }
        Ok(buf.pop_front())
    }

    fn next_rec(&mut self, file: &File) -> io::Result<Option<Rec<N>>> {
        if self.runs.is_empty() {
            return Ok(self.memory.next());
        }
        let Some(Reverse((r, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let next = if i == usize::MAX {
            self.memory.next()
        } else {
            self.pop_run(i, file)?
        };
        if let Some(n) = next {
            self.heap.push(Reverse((n, i)));
        }
        Ok(Some(r))
    }
}

/// An index's records in order.
pub struct Sorted<const N: usize> {
    merge: Merge<N>,
    file: Option<File>,
}

impl<const N: usize> Sorted<N> {
    /// The next record; errors when a run cannot be read back.
    pub fn next_rec(&mut self) -> io::Result<Option<Rec<N>>> {
        match &self.file {
            None => Ok(self.merge.memory.next()),
            Some(file) => self.merge.next_rec(file),
        }
    }
}

/// Strings a finding may need at the end (a duplicated rule uuid, a link's item), kept
/// by handle: in memory up to [`BUDGET`] bytes, then appended to a temporary file.
pub struct Strings {
    mem: Vec<u8>,
    /// File offset where `mem` starts.
    base: u64,
    file: Option<File>,
    spill: bool,
}

impl Strings {
    pub fn new(spill: bool) -> Self {
        Strings {
            mem: Vec::new(),
            base: 0,
            file: None,
            spill,
        }
    }

    /// Keep `s`; returns its handle (offset, length) as two record fields.
    pub fn put(&mut self, s: &str) -> (u64, u64) {
        if self.spill && self.mem.len() >= BUDGET && self.flush().is_err() {
            self.spill = false;
        }
        let at = self.base + self.mem.len() as u64;
        self.mem.extend_from_slice(s.as_bytes());
        (at, s.len() as u64)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile()?);
        }
        if let Some(f) = self.file.as_mut() {
            f.seek(SeekFrom::Start(self.base))?;
            f.write_all(&self.mem)?;
        }
        self.base += self.mem.len() as u64;
        self.mem.clear();
        Ok(())
    }

    /// A string [`Strings::put`] kept.
    pub fn get(&mut self, (at, len): (u64, u64)) -> io::Result<String> {
        let bytes = if at >= self.base {
            let from = (at - self.base) as usize;
            self.mem
                .get(from..from + len as usize)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        } else {
            let mut b = vec![0u8; len as usize];
            if let Some(f) = self.file.as_mut() {
                f.seek(SeekFrom::Start(at))?;
                f.read_exact(&mut b)?;
            }
            b
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<const N: usize>(s: &mut Sorted<N>) -> Vec<Rec<N>> {
        let mut out = Vec::new();
        while let Some(r) = s.next_rec().expect("reads back") {
            out.push(r);
        }
        out
    }

    #[test]
    fn spilled_records_come_back_in_order() {
        // Enough records for many runs, and for the runs to be merged on disk.
        let n = (BUDGET / 16) * (FAN_IN + 5) + 123;
        let mut spilled = Index::<2>::spilling();
        let mut kept = Index::<2>::in_memory();
        let mut want = Vec::new();
        let mut x = 12345u64;
        for i in 0..n as u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = [x >> 40, i];
            spilled.push(r);
            kept.push(r);
            want.push(r);
        }
        assert!(spilled.disk.as_ref().is_some_and(|d| !d.runs.is_empty()));
        want.sort_unstable();
        assert_eq!(drain(&mut spilled.sorted().expect("sorted")), want);
        assert_eq!(drain(&mut kept.sorted().expect("sorted")), want);
    }

    #[test]
    fn signed_fields_sort_like_numbers() {
        let mut v = [-5i64, 3, i64::MIN, 0, i64::MAX, -1];
        let mut f: Vec<u64> = v.iter().map(|&x| signed(x)).collect();
        f.sort_unstable();
        v.sort_unstable();
        assert_eq!(f.iter().map(|&x| unsigned(x)).collect::<Vec<_>>(), v);
    }

    #[test]
    fn strings_come_back_from_memory_and_disk() {
        let mut s = Strings::new(true);
        let mut handles = Vec::new();
        for i in 0..(BUDGET / 1000) * 3 {
            let text = format!("{i}-{}", "é".repeat(i % 700));
            handles.push((s.put(&text), text));
        }
        assert!(s.file.is_some());
        for (h, text) in handles.iter().rev() {
            assert_eq!(&s.get(*h).expect("reads back"), text);
        }
    }
}
