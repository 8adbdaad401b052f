//! Property tests of the CSV reader and cell coercion against hostile files: whatever the bytes
//! (NULs, invalid UTF-8, stray quotes, CR, runs of commas) and however they are split into chunks,
//! the reader never panics and answers the same; well-formed files read back exactly; coercing any
//! text to any column type never panics.

use proptest::prelude::*;

use crate::coerce::coerce_into;
use crate::csv_stream::{CsvError, CsvStream, Record};
use crate::schema::ColumnType;

/// Every record (line and cells) of `input` fed in `chunk_size` pieces, or the error.
fn read(input: &[u8], chunk_size: usize) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
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

/// Bytes a hostile file is made of.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::sample::select(vec![
        &b","[..],
        b"\"",
        b"\"\"",
        b"\n",
        b"\r",
        b"\r\n",
        b"\0",
        b"\xff\xfe",
        b"\xef\xbb\xbf",
        b"\xc3",
        b"town",
        b"1,2,3",
        b" ",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        prop::collection::vec(pieces, 0..200).prop_map(|pieces| pieces.concat()),
    ]
}

/// A cell as it is written in a CSV file (quoted when it has to be) and as it reads back.
fn cell() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,\"\n$.é-]{0,12}"
}

fn written(cell: &str) -> String {
    if cell.contains([',', '"', '\n']) || cell.starts_with(' ') || cell.ends_with(' ') {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_in_any_chunks_are_read_the_same_or_refused_the_same(
        input in hostile_bytes(),
        chunk_size in 1usize..64,
    ) {
        let whole = read(&input, input.len().max(1));
        let chunked = read(&input, chunk_size);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn well_formed_files_read_back_exactly(
        rows in prop::collection::vec(prop::collection::vec(cell(), 3), 1..20),
        chunk_size in 1usize..32,
    ) {
        let file: String = rows
            .iter()
            .map(|row| row.iter().map(|c| written(c)).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        let records = read(file.as_bytes(), chunk_size).unwrap();
        let cells: Vec<Vec<String>> = records.into_iter().map(|(_, cells)| cells).collect();
        prop_assert_eq!(cells, rows);
    }

    #[test]
    fn coercing_any_text_to_any_type_never_panics(
        text in prop_oneof![
            "\\PC{0,40}",
            "[0-9$,.()%eE+é®-]{0,30}",
            "[0-9/ :TZ+apm.é®ꟕ-]{0,30}",
            "(POINT|point|Point)[ ()0-9.,é®ꟕ-]{0,20}",
            "[({\\[]?[0-9., \"a-z:é®ꟕ-]{0,30}[)}\\]]?",
        ],
        column_type in prop::sample::select(ColumnType::ALL.to_vec()),
    ) {
        let mut out = Vec::new();
        let _ = coerce_into(column_type, &text, &mut out);
        let with_nul = format!("{text}\0");
        prop_assert!(coerce_into(column_type, &with_nul, &mut out).is_err(), "NUL accepted");
    }
}
