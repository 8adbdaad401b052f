//! A push-based CSV reader for files that arrive in chunks of any size (a gRPC stream): chunks may
//! split rows and even UTF-8 characters anywhere. Built on `csv-core`, it adds what an ingestion
//! pipeline needs on top: the line each record starts on, a byte-order mark stripped, and the
//! structural errors that make a file unusable (unclosed quote, wrong field count, invalid UTF-8,
//! empty file) reported with their line.

use csv_core::{ReadRecordResult, Reader};
use opendata_limits::{COLUMNS, RECORD_BYTES, TEXT_NAME};

/// Largest record accepted, in bytes; a larger one is almost always an unclosed quote swallowing
/// the rest of the file, and holding it would take unbounded memory.
pub const MAX_RECORD_BYTES: usize = RECORD_BYTES.get();

/// A structural problem that makes the whole file unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The file has no header row.
    #[error("the file is empty: expected a header row")]
    Empty,
    /// A record has a different number of fields than the header.
    #[error("line {line}: expected {expected} fields like the header, found {found}{hint}")]
    FieldCount {
        /// Line the record starts on.
        line: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in this record.
        found: usize,
        /// A hint at the cause, when one is likely.
        hint: &'static str,
    },
    /// A quoted field is never closed.
    #[error("line {line}: a quoted field is never closed (unclosed quote)")]
    UnclosedQuote {
        /// Line where the unclosed field's record starts.
        line: u64,
    },
    /// A record is larger than [`MAX_RECORD_BYTES`].
    #[error("line {line}: a record is larger than {} MiB (an unclosed quote?)", MAX_RECORD_BYTES / (1024 * 1024))]
    RecordTooLarge {
        /// Line where the record starts.
        line: u64,
    },
    /// A record has more fields than a dataset may have columns.
    #[error("line {line}: more than {} fields (limit {})", COLUMNS.value, COLUMNS.name)]
    TooManyFields {
        /// Line where the record starts.
        line: u64,
    },
    /// A header cell cannot name a column.
    #[error("line 1, field {field}: the header cell {problem}")]
    BadHeader {
        /// 1-based field number.
        field: usize,
        /// What is wrong with it, naming the limit.
        problem: String,
        /// The limit it goes past, if it is too long (none for NUL characters).
        limit: Option<&'static str>,
    },
    /// A record is not valid UTF-8.
    #[error("line {line}, field {field}: invalid UTF-8; save the file as UTF-8")]
    InvalidUtf8 {
        /// Line the record starts on.
        line: u64,
        /// 1-based field number.
        field: usize,
    },
}

impl CsvError {
    /// The limit (of `opendata_limits`) the file goes past, when that is the error.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            CsvError::TooManyFields { .. } => Some(COLUMNS.name),
            CsvError::RecordTooLarge { .. } => Some(RECORD_BYTES.name),
            CsvError::BadHeader { limit, .. } => *limit,
            _ => None,
        }
    }

    /// The line the error is on, when it has one.
    pub fn line(&self) -> Option<u64> {
        match self {
            CsvError::Empty => None,
            CsvError::FieldCount { line, .. }
            | CsvError::UnclosedQuote { line }
            | CsvError::RecordTooLarge { line }
            | CsvError::TooManyFields { line }
            | CsvError::InvalidUtf8 { line, .. } => Some(*line),
            CsvError::BadHeader { .. } => Some(1),
        }
    }
}

/// One parsed record, borrowed from the reader.
pub struct Record<'a> {
    /// Line of the file where the record starts (the header is line 1).
    pub line: u64,
    fields: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `index` as text (the record was checked to be UTF-8).
    pub fn get(&self, index: usize) -> &'a str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        // Validated in `emit`; a failure here would be a bug, and an empty field is the safe answer.
        std::str::from_utf8(&self.fields[start..self.ends[index]]).unwrap_or_default()
    }

    /// Every field as text.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(|index| self.get(index))
    }
}

/// Where the quote tracker is inside the current record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuoteState {
    /// Between records (blank lines are skipped here).
    RecordStart,
    /// At the start of a field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: either an escaped quote or the closing one.
    QuoteInQuoted,
}

/// UTF-8's byte-order mark, which some programs write at the start of a CSV file.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// The chunk-fed CSV reader.
pub struct CsvStream {
    reader: Reader,
    output: Vec<u8>,
    output_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    /// Bytes held back at the start of the file until the BOM question is settled: csv-core
    /// strips a byte-order mark only from the first input it is given, whole, and takes an empty
    /// input for the end of the file, so its first input is a mark and at least one byte more
    /// (or the whole file).
    head: Vec<u8>,
    started: bool,
    state: QuoteState,
    line: u64,
    record_start_line: u64,
    previous_was_cr: bool,
    expected_fields: Option<usize>,
    records: u64,
}

impl Default for CsvStream {
    fn default() -> Self {
        CsvStream::new()
    }
}

impl CsvStream {
    /// A reader for comma-separated files with `"` quotes.
    pub fn new() -> Self {
        CsvStream {
            reader: Reader::new(),
            output: vec![0; 64 * 1024],
            output_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            head: Vec::new(),
            started: false,
            state: QuoteState::RecordStart,
            line: 1,
            record_start_line: 1,
            previous_was_cr: false,
            expected_fields: None,
            records: 0,
        }
    }

    /// Records emitted so far, the header included.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Feeds the next chunk; calls `on_record` for every complete record, the header first.
    /// Errors from `on_record` stop the reading and are returned as they are.
    pub fn feed<E: From<CsvError>>(
        &mut self,
        chunk: &[u8],
        on_record: &mut impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.started {
            self.head.extend_from_slice(chunk);
            if self.head.len() <= BOM.len() && BOM.starts_with(&self.head) {
                return Ok(());
            }
            self.started = true;
            let head = std::mem::take(&mut self.head);
            return self.parse_more(&head, on_record);
        }
        self.parse_more(chunk, on_record)
    }

    /// Parses more of the input; nothing when `input` is empty (an empty chunk), which
    /// [`CsvStream::parse`] would take for the end of the file.
    fn parse_more<E: From<CsvError>>(
        &mut self,
        input: &[u8],
        on_record: &mut impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if input.is_empty() {
            return Ok(());
        }
        self.parse(input, on_record)
    }

    /// Ends the input: emits the last record and checks the file was not empty or cut inside a
    /// quoted field.
    pub fn finish<E: From<CsvError>>(
        &mut self,
        on_record: &mut impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.started {
            self.started = true;
            let head = std::mem::take(&mut self.head);
            self.parse_more(&head, on_record)?;
        }
        if matches!(self.state, QuoteState::Quoted) {
            return Err(CsvError::UnclosedQuote {
                line: self.record_start_line,
            }
            .into());
        }
        self.parse(&[], on_record)?;
        if self.records == 0 {
            return Err(CsvError::Empty.into());
        }
        Ok(())
    }

    fn parse<E: From<CsvError>>(
        &mut self,
        mut input: &[u8],
        on_record: &mut impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let at_end = input.is_empty();
        loop {
            let (result, consumed, written, ends_written) = self.reader.read_record(
                input,
                &mut self.output[self.output_len..],
                &mut self.ends[self.ends_len..],
            );
            self.track(&input[..consumed]);
            input = &input[consumed..];
            // csv-core writes `ends` as offsets into the whole record, across calls.
            self.output_len += written;
            self.ends_len += ends_written;
            match result {
                ReadRecordResult::InputEmpty => {
                    if !at_end {
                        return Ok(());
                    }
                }
                ReadRecordResult::OutputFull => {
                    if self.output.len() >= MAX_RECORD_BYTES {
                        return Err(CsvError::RecordTooLarge {
                            line: self.record_start_line,
                        }
                        .into());
                    }
                    let grown = (self.output.len() * 2).min(MAX_RECORD_BYTES);
                    self.output.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    // Empty fields take no output bytes, so the record limit alone would let a
                    // line of commas grow this without bound.
                    if self.ends.len() > COLUMNS.get() {
                        return Err(CsvError::TooManyFields {
                            line: self.record_start_line,
                        }
                        .into());
                    }
                    let grown = (self.ends.len() * 2).min(COLUMNS.get() + 1);
                    self.ends.resize(grown, 0);
                }
                ReadRecordResult::Record => self.emit(on_record)?,
                ReadRecordResult::End => return Ok(()),
            }
        }
    }

    fn emit<E: From<CsvError>>(
        &mut self,
        on_record: &mut impl FnMut(Record<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let line = self.record_start_line;
        let fields = &self.output[..self.output_len];
        let ends = &self.ends[..self.ends_len];
        if let Err(error) = std::str::from_utf8(fields) {
            let bad_at = error.valid_up_to();
            let field = ends.iter().position(|&end| end > bad_at).unwrap_or(0) + 1;
            return Err(CsvError::InvalidUtf8 { line, field }.into());
        }
        match self.expected_fields {
            None => self.expected_fields = Some(ends.len()),
            Some(expected) if expected != ends.len() => {
                let multiline = fields.contains(&b'\n');
                return Err(CsvError::FieldCount {
                    line,
                    expected,
                    found: ends.len(),
                    hint: if multiline {
                        " (a field spans several lines: an unclosed quote?)"
                    } else {
                        ""
                    },
                }
                .into());
            }
            Some(_) => {}
        }
        self.records += 1;
        let result = on_record(Record { line, fields, ends });
        self.output_len = 0;
        self.ends_len = 0;
        result
    }

    /// Follows quoting and line breaks over the bytes csv-core consumed, to know each record's
    /// first line and whether the input ends inside a quoted field.
    fn track(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state = match (self.state, byte) {
                (QuoteState::RecordStart, b'\n' | b'\r') => QuoteState::RecordStart,
                (QuoteState::RecordStart, _) => {
                    self.record_start_line = self.line;
                    self.after_field_start(byte)
                }
                (QuoteState::FieldStart, _) => self.after_field_start(byte),
                (QuoteState::Unquoted | QuoteState::QuoteInQuoted, b',') => QuoteState::FieldStart,
                (QuoteState::Unquoted | QuoteState::QuoteInQuoted, b'\n' | b'\r') => {
                    QuoteState::RecordStart
                }
                (QuoteState::Unquoted, _) => QuoteState::Unquoted,
                (QuoteState::Quoted, b'"') => QuoteState::QuoteInQuoted,
                (QuoteState::Quoted, _) => QuoteState::Quoted,
                (QuoteState::QuoteInQuoted, b'"') => QuoteState::Quoted,
                (QuoteState::QuoteInQuoted, _) => QuoteState::Unquoted,
            };
            // A line ends at `\n`, `\r\n` or a lone `\r` (old Mac files).
            if byte == b'\r' || (byte == b'\n' && !self.previous_was_cr) {
                self.line += 1;
            }
            self.previous_was_cr = byte == b'\r';
        }
    }

    fn after_field_start(&self, byte: u8) -> QuoteState {
        match byte {
            b'"' => QuoteState::Quoted,
            b',' => QuoteState::FieldStart,
            b'\n' | b'\r' => QuoteState::RecordStart,
            _ => QuoteState::Unquoted,
        }
    }
}

/// Checks a file's header: each cell must be able to name a column (at most [`TEXT_NAME`]
/// characters, no NUL: a file saved as UTF-16 shows up as NULs here).
pub fn check_header(header: &[&str]) -> Result<(), CsvError> {
    for (index, cell) in header.iter().enumerate() {
        if let Some(problem) = TEXT_NAME.text_problem(cell) {
            let problem = if cell.contains('\0') {
                "holds NUL characters; save the file as UTF-8 (is it UTF-16?)".to_owned()
            } else {
                format!("has {problem}")
            };
            return Err(CsvError::BadHeader {
                field: index + 1,
                limit: (!cell.contains('\0')).then_some(TEXT_NAME.name),
                problem,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_chunks(
        input: &[u8],
        chunk_size: usize,
    ) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
        let mut stream = CsvStream::new();
        let mut records = Vec::new();
        let mut collect = |record: Record<'_>| -> Result<(), CsvError> {
            records.push((record.line, record.iter().map(str::to_owned).collect()));
            Ok(())
        };
        for chunk in input.chunks(chunk_size.max(1)) {
            stream.feed(chunk, &mut collect)?;
        }
        stream.finish(&mut collect)?;
        Ok(records)
    }

    #[test]
    fn records_are_the_same_whatever_the_chunk_size() {
        let input =
            "\u{feff}a,b,c\n1,\"x, y\",3\r\n\n4,\"multi\nline\",\"q\"\"uote\"\n7,8,9".as_bytes();
        let expected = vec![
            (1, vec!["a".to_owned(), "b".into(), "c".into()]),
            (2, vec!["1".into(), "x, y".into(), "3".into()]),
            (4, vec!["4".into(), "multi\nline".into(), "q\"uote".into()]),
            (6, vec!["7".into(), "8".into(), "9".into()]),
        ];
        for chunk_size in [1, 2, 3, 5, 7, 64, 4096] {
            assert_eq!(
                parse_in_chunks(input, chunk_size).unwrap(),
                expected,
                "chunk size {chunk_size}"
            );
        }
    }

    #[test]
    fn wrong_field_counts_name_the_line() {
        let error = parse_in_chunks(b"a,b,c\n1,2,3\n4,5\n", 4).unwrap_err();
        assert_eq!(
            error,
            CsvError::FieldCount {
                line: 3,
                expected: 3,
                found: 2,
                hint: ""
            }
        );
        assert_eq!(
            error.to_string(),
            "line 3: expected 3 fields like the header, found 2"
        );
    }

    #[test]
    fn an_unclosed_quote_is_reported() {
        let error = parse_in_chunks(b"a,b\n1,2\n3,\"oops\n", 3).unwrap_err();
        assert_eq!(error, CsvError::UnclosedQuote { line: 3 });
        let swallowed = parse_in_chunks(b"a,b\n1,\"2\n3,4\n5,6\n", 3).unwrap_err();
        assert!(
            matches!(swallowed, CsvError::UnclosedQuote { line: 2 }),
            "{swallowed:?}"
        );
    }

    #[test]
    fn lines_are_counted_for_every_line_ending() {
        for (ending, chunk) in [("\n", 1), ("\r\n", 1), ("\r", 1), ("\r\n", 4)] {
            let input = format!("a,b{ending}1,2{ending}\"x{ending}y\",3{ending}4,5{ending}");
            let lines: Vec<u64> = parse_in_chunks(input.as_bytes(), chunk)
                .unwrap()
                .iter()
                .map(|(line, _)| *line)
                .collect();
            assert_eq!(lines, vec![1, 2, 3, 5], "{ending:?} in chunks of {chunk}");
        }
    }

    #[test]
    fn a_line_of_commas_is_refused_before_it_takes_memory() {
        let mut input = vec![b','; 10 * COLUMNS.get()];
        input.push(b'\n');
        let error = parse_in_chunks(&input, 4096).unwrap_err();
        assert_eq!(error, CsvError::TooManyFields { line: 1 });
        let mut just_fits = vec![b','; COLUMNS.get() - 1];
        just_fits.extend_from_slice(b"\n");
        assert!(parse_in_chunks(&just_fits, 7).is_ok());
    }

    #[test]
    fn header_cells_must_be_names() {
        assert!(check_header(&["Town", "Sale Amount"]).is_ok());
        let long = "x".repeat(TEXT_NAME.get() + 1);
        let error = check_header(&["Town", &long]).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "line 1, field 2: the header cell has 201 characters, more than the 200"
            ),
            "{error}"
        );
        let utf16 = check_header(&["T\0o\0w\0n\0"]).unwrap_err();
        assert!(utf16.to_string().contains("UTF-16"), "{utf16}");
    }

    #[test]
    fn a_runaway_record_is_refused_with_its_line() {
        let mut input = b"a,b\n1,\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        let error = parse_in_chunks(&input, 1 << 20).unwrap_err();
        assert_eq!(error, CsvError::RecordTooLarge { line: 2 });
    }

    #[test]
    fn invalid_utf8_names_line_and_field() {
        let error = parse_in_chunks(b"a,b\n1,ok\n2,\xff\xfe\n", 2).unwrap_err();
        assert_eq!(error, CsvError::InvalidUtf8 { line: 3, field: 2 });
    }

    #[test]
    fn empty_files_are_errors() {
        assert_eq!(parse_in_chunks(b"", 10).unwrap_err(), CsvError::Empty);
        assert_eq!(
            parse_in_chunks(b"\xef\xbb\xbf", 1).unwrap_err(),
            CsvError::Empty
        );
        assert_eq!(parse_in_chunks(b"\n\n", 1).unwrap_err(), CsvError::Empty);
    }

    #[test]
    fn one_byte_order_mark_is_dropped_however_the_file_is_cut() {
        // Found by the property tests: only the first mark is the file's; a second is data.
        let input = b"\xef\xbb\xbf\xef\xbb\xbfa,b\n1,2\n";
        let whole = parse_in_chunks(input, input.len()).unwrap();
        assert_eq!(whole[0].1, ["\u{feff}a", "b"]);
        for chunk_size in 1..input.len() {
            assert_eq!(
                parse_in_chunks(input, chunk_size).unwrap(),
                whole,
                "{chunk_size}"
            );
        }
        let single = parse_in_chunks(b"\xef\xbb\xbfa\n", 1).unwrap();
        assert_eq!(single[0].1, ["a"]);
    }

    #[test]
    fn utf8_characters_split_across_chunks_survive() {
        let input = "name\nCafé Ñandú\n".as_bytes();
        let records = parse_in_chunks(input, 1).unwrap();
        assert_eq!(records[1].1[0], "Café Ñandú");
    }
}
