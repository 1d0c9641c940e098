//! Input files: reading bytes from a path or stdin, decoding, and mapping
//! byte offsets to 1-based lines and columns.

use std::io::{IsTerminal, Read};
use std::ops::Range;

/// Largest input accepted: spans are 32-bit.
pub const MAX_INPUT: usize = u32::MAX as usize - 1;

/// One input text with its line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics: the path as given, or `<stdin>`.
    pub name: String,
    /// The text; invalid UTF-8 replaced by U+FFFD.
    pub text: String,
    /// Byte offset of the first invalid UTF-8 sequence in the original bytes, if any.
    pub invalid_utf8_at: Option<usize>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A source from bytes, decoding UTF-8 leniently.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Self {
        let (text, invalid_utf8_at) = match String::from_utf8(bytes) {
            Ok(text) => (text, None),
            Err(error) => {
                let at = error.utf8_error().valid_up_to();
                (
                    String::from_utf8_lossy(error.as_bytes()).into_owned(),
                    Some(at),
                )
            }
        };
        Self::from_text(name, text, invalid_utf8_at)
    }

    /// A source from text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self::from_text(name, text.into(), None)
    }

    fn from_text(name: impl Into<String>, text: String, invalid_utf8_at: Option<usize>) -> Self {
        let newlines = crate::syntax::newlines(text.as_bytes());
        let mut line_starts = Vec::with_capacity(newlines.len() + 1);
        line_starts.push(0);
        line_starts.extend(newlines.iter().map(|at| at + 1));
        SourceFile {
            name: name.into(),
            text,
            invalid_utf8_at,
            line_starts,
        }
    }

    /// Read `path`, or stdin when `path` is `-`.
    pub fn read(path: &str) -> std::io::Result<Self> {
        if path == "-" {
            let bytes = read_stdin()?;
            check_size(&bytes)?;
            return Ok(Self::from_bytes("<stdin>", bytes));
        }
        let file = std::fs::File::open(path)?;
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(std::io::Error::other("is a directory"));
        }
        let bytes = read_rest(&file, 0, metadata.len(), metadata.is_file())?;
        check_size(&bytes)?;
        Ok(Self::from_bytes(path, bytes))
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn location(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let column = floor_char_boundary(&self.text, offset)
            .checked_sub(start)
            .map_or(0, |len| self.text[start..start + len].chars().count());
        (line + 1, column + 1)
    }

    /// Byte range of 1-based line `line`, without its newline.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        start..end.max(start)
    }

    /// Byte ranges of the lines, line endings excluded, as
    /// [`crate::syntax::line_ranges`] gives them: a final line without
    /// `\n` counts, a trailing `\n` does not start another line.
    pub fn line_ranges(&self) -> Vec<Range<usize>> {
        // Every line start but the first follows a newline.
        let newlines = self.line_starts[1..].iter().map(|start| start - 1);
        crate::syntax::line_ranges_between(newlines, self.text.len())
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

/// Why a command given no FILE does not wait on standard input: it is a
/// terminal, where nobody is typing a dump, and `iptlint check` alone in a
/// shell would otherwise sit silent until Ctrl-D, like a hang. `command` is
/// the subcommand with its other arguments, for the two ways to give a dump.
/// `None` when standard input is a pipe or a file. An explicit `-` still
/// reads the terminal: that was asked for.
pub fn terminal_stdin_refusal(command: &str) -> Option<String> {
    std::io::stdin().is_terminal().then(|| {
        format!(
            "no dump to read: standard input is a terminal; name a FILE \
             (`iptlint {command} FILE`) or pipe one in (`iptables-save | iptlint {command}`)"
        )
    })
}

/// The largest char boundary of `text` at or below `offset` (at most
/// `text.len()`): where to cut a text without splitting a character.
pub(crate) fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Files at least this large are read by several threads at once, a part
/// each: most of reading a large file is the kernel filling fresh pages,
/// which one thread did at ~1.4 GB/s here (23 ms for a 32 MB dump, all of
/// it before the parallel parse can start).
const PARALLEL_READ_MIN: u64 = 8 << 20;
/// The part of a file one thread reads.
const READ_PART: usize = 2 << 20;

/// All that stdin still holds. Redirected from a regular file (`iptlint
/// check - < dump`), it is read from where its offset stands as
/// [`read_rest`] reads a path, its size known; a pipe or a terminal is read
/// through.
fn read_stdin() -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::io::Seek;
        use std::os::fd::AsFd;
        // A duplicate descriptor shares the offset with stdin's.
        if let Ok(descriptor) = std::io::stdin().as_fd().try_clone_to_owned() {
            let mut file = std::fs::File::from(descriptor);
            let metadata = file.metadata()?;
            if metadata.is_file()
                && let Ok(start) = file.stream_position()
            {
                let len = metadata.len().saturating_sub(start);
                return read_rest(&file, start, len, true);
            }
        }
    }
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The bytes of `file` from offset `start`, where its offset stands, to its
/// end, `len` bytes when last looked at: in parallel parts when it is a
/// regular file (`regular`) of at least [`PARALLEL_READ_MIN`] bytes, else,
/// or when its length changed meanwhile, read through into a buffer of
/// that size (a 32 MB dump read into a vector doubled from empty took 20
/// reallocations and copies). Either way its offset is left at the end.
fn read_rest(
    file: &std::fs::File,
    start: u64,
    len: u64,
    regular: bool,
) -> std::io::Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    check_size_of(usize::try_from(len).unwrap_or(usize::MAX))?;
    let mut file = file;
    if regular
        && len >= PARALLEL_READ_MIN
        && let Some(bytes) = read_parts(file, start, len)?
    {
        file.seek(SeekFrom::Start(start + len))?;
        return Ok(bytes);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The `len` bytes of `file` from offset `start`, read in parts of
/// [`READ_PART`] on every thread; `None` when the file no longer ends
/// there (shorter or longer now).
#[cfg(unix)]
fn read_parts(file: &std::fs::File, start: u64, len: u64) -> std::io::Result<Option<Vec<u8>>> {
    use rayon::prelude::*;
    use std::os::unix::fs::FileExt;
    let len = len as usize;
    let mut bytes = vec![0; len];
    let read = bytes
        .par_chunks_mut(READ_PART)
        .enumerate()
        .try_for_each(|(index, part)| file.read_exact_at(part, start + (index * READ_PART) as u64));
    match read {
        // Nothing past the length it had: the whole file.
        Ok(()) if file.read_at(&mut [0], start + len as u64)? == 0 => Ok(Some(bytes)),
        Ok(()) => Ok(None),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reading at an offset without moving the file's is Unix's `pread`:
/// elsewhere files are read through.
#[cfg(not(unix))]
fn read_parts(_: &std::fs::File, _: u64, _: u64) -> std::io::Result<Option<Vec<u8>>> {
    Ok(None)
}

fn check_size(bytes: &[u8]) -> std::io::Result<()> {
    check_size_of(bytes.len())
}

fn check_size_of(len: usize) -> std::io::Result<()> {
    if len > MAX_INPUT {
        return Err(std::io::Error::other(
            "larger than 4 GiB, which iptlint does not read",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Seek;

    #[test]
    fn a_large_file_is_read_whole_in_parts() {
        // Past the size read in parallel, not a multiple of the part, with
        // every byte value where a part ends.
        let len = PARALLEL_READ_MIN as usize + READ_PART / 2 + 7;
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.rules");
        std::fs::write(&path, &content).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(read_rest(&file, 0, len as u64, true).unwrap(), content);
        // Left at the end, as reading through leaves it.
        assert_eq!((&file).stream_position().unwrap(), len as u64);
        let source = SourceFile::read(path.to_str().unwrap()).unwrap();
        assert_eq!(source.invalid_utf8_at, Some(128));
    }

    #[test]
    fn locations_are_one_based() {
        let file = SourceFile::new("x", "ab\ncdé\nf");
        assert_eq!(file.location(0), (1, 1));
        assert_eq!(file.location(3), (2, 1));
        assert_eq!(file.location(7), (2, 4));
        assert_eq!(file.location(8), (3, 1));
        assert_eq!(file.location(9), (3, 2));
        assert_eq!(file.line_range(2), 3..7);
    }

    #[test]
    fn line_ranges_are_those_the_parser_cuts() {
        for text in [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\nb",
            "a\n\nb\n",
            "\nab\r\nc",
        ] {
            assert_eq!(
                SourceFile::new("x", text).line_ranges(),
                crate::syntax::line_ranges(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_and_remembered() {
        let file = SourceFile::from_bytes("x", b"ok\n\xff\xfe bad".to_vec());
        assert_eq!(file.invalid_utf8_at, Some(3));
        assert!(file.text.contains('\u{fffd}'));
    }
}
