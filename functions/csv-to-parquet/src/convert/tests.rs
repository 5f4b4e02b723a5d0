//! Bytes-in, bytes-out tests of the converter on the CSV shapes real feeds have.

use super::*;
use crate::schema::{CORRELATION_ID_COLUMN, INGESTED_AT_COLUMN, SOURCE_KEY_COLUMN};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use chrono::TimeZone;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{LogicalType, Type as PhysicalType};

/// Raw batches the reading thread typed itself, its typing workers all busy (over every test).
pub(super) static READER_TYPED: AtomicU64 = AtomicU64::new(0);

/// Row groups whose writers were dealt to the lanes again, mid-group (over every test).
pub(super) static REDEALT: AtomicU64 = AtomicU64::new(0);

fn opts() -> Options {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
        .single()
        .expect("valid time");
    Options::new("raw/orders/a.csv", at)
}

fn schema(json: &str) -> Option<Schema> {
    Some(Schema::from_json(json.as_bytes()).expect("valid schema"))
}

struct Out {
    summary: Summary,
    parquet: Vec<u8>,
    quarantine: String,
    quarantine_raw: Vec<u8>,
}

fn run(input: &[u8], opts: &Options) -> Result<Out, ConvertError> {
    let mut parquet = Vec::new();
    let mut quarantine = Vec::new();
    let summary = convert(input, &mut parquet, &mut quarantine, opts)?;
    Ok(Out {
        summary,
        parquet,
        quarantine: String::from_utf8_lossy(&quarantine).into_owned(),
        quarantine_raw: quarantine,
    })
}

fn ok(input: &[u8], opts: &Options) -> Out {
    run(input, opts).expect("conversion succeeds")
}

fn batch(parquet: &[u8]) -> RecordBatch {
    batch_all(parquet)
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = b.column_by_name(name).expect("column exists");
    col.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    b.column_by_name(name)
        .expect("column exists")
        .as_primitive::<Int64Type>()
        .iter()
        .collect()
}

#[test]
fn writes_declared_types_as_real_parquet_types() {
    let csv = b"order_id,qty,price,rate,ok,day,at\nPO-1,3,19.99,0.5,true,2026-11-21,2026-11-21T10:00:00Z\nPO-2,,0.10,,no,,2026-11-21T11:30:00+01:30\n";
    let mut o = opts();
    o.schema = schema(
        r#"{"columns":[{"name":"order_id","type":"string","nullable":false},{"name":"qty","type":"int64"},
        {"name":"price","type":"decimal(12,2)"},{"name":"rate","type":"float64"},{"name":"ok","type":"bool"},
        {"name":"day","type":"date"},{"name":"at","type":"timestamp"}]}"#,
    );
    let out = ok(csv, &o);
    assert_eq!(
        (
            out.summary.rows_in,
            out.summary.rows_out,
            out.summary.rows_rejected
        ),
        (2, 2, 0)
    );
    assert_eq!(out.summary.schema_source, SchemaSource::Declared);
    assert!(
        out.quarantine.is_empty(),
        "no quarantine when every row is good"
    );

    let b = batch(&out.parquet);
    assert_eq!(
        strings(&b, "order_id"),
        [Some("PO-1".into()), Some("PO-2".into())]
    );
    assert_eq!(ints(&b, "qty"), [Some(3), None]);
    let price = b
        .column_by_name("price")
        .expect("price")
        .as_primitive::<Decimal128Type>();
    assert_eq!(price.data_type(), &DataType::Decimal128(12, 2));
    assert_eq!((price.value(0), price.value(1)), (1999, 10));
    let rate = b
        .column_by_name("rate")
        .expect("rate")
        .as_primitive::<Float64Type>();
    assert_eq!((rate.value(0), rate.is_null(1)), (0.5, true));
    let okc = b.column_by_name("ok").expect("ok").as_boolean();
    assert_eq!((okc.value(0), okc.value(1)), (true, false));
    let day = b
        .column_by_name("day")
        .expect("day")
        .as_primitive::<Date32Type>();
    assert_eq!((day.value(0), day.is_null(1)), (20_778, true));
    let at = b
        .column_by_name("at")
        .expect("at")
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(
        at.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(at.value(0), at.value(1), "both rows are 10:00 UTC");
    assert_eq!(at.value(0), 1_795_255_200_000_000);

    // The Parquet file itself carries the logical types other engines read.
    let meta = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet))
        .expect("parquet")
        .metadata()
        .clone();
    let cols = meta.file_metadata().schema_descr();
    assert_eq!(cols.column(1).physical_type(), PhysicalType::INT64);
    assert_eq!(cols.column(5).logical_type_ref(), Some(&LogicalType::Date));
    assert!(
        matches!(cols.column(6).logical_type_ref(), Some(LogicalType::Timestamp(t)) if t.is_adjusted_to_u_t_c)
    );
    assert!(
        matches!(cols.column(2).logical_type_ref(), Some(LogicalType::Decimal(d)) if d.scale == 2 && d.precision == 12)
    );
    assert_eq!(cols.column(4).physical_type(), PhysicalType::BOOLEAN);
}

/// A long object key shortens the typed batches instead of making the lineage columns (built once, as long as
/// the longest batch) large, and every row still carries the whole key and correlation id, across many batches.
#[test]
fn a_long_source_key_bounds_the_lineage_columns_and_reaches_every_row() {
    let mut long = opts();
    long.source_key = format!("raw/orders/{}.csv", "k".repeat(1_000));
    long.correlation_id = Some(format!(
        "arn:aws:states:r:1:execution:m:{}",
        "e".repeat(100)
    ));
    let rows = typed_batch_rows(&long, RAW_BATCH_ROWS);
    let row_bytes = long.source_key.len() + long.correlation_id.as_ref().map_or(0, String::len);
    assert!(
        rows * row_bytes <= LINEAGE_BYTES && rows < RAW_BATCH_ROWS,
        "{rows}"
    );
    // A short key keeps the raw batch's rows.
    assert_eq!(typed_batch_rows(&opts(), RAW_BATCH_ROWS), RAW_BATCH_ROWS);

    let n = 3 * rows + 7;
    let input: String = std::iter::once("a\n".to_owned())
        .chain((0..n).map(|i| format!("{i}\n")))
        .collect();
    let b = batch(&ok(input.as_bytes(), &long).parquet);
    assert_eq!(ints(&b, "a"), (0..n as i64).map(Some).collect::<Vec<_>>());
    assert_eq!(
        strings(&b, SOURCE_KEY_COLUMN),
        vec![Some(long.source_key.clone()); n]
    );
    assert_eq!(
        strings(&b, CORRELATION_ID_COLUMN),
        vec![long.correlation_id.clone(); n]
    );
}

#[test]
fn adds_lineage_columns() {
    let out = ok(b"a\n1\n", &opts());
    let b = batch(&out.parquet);
    assert_eq!(
        strings(&b, SOURCE_KEY_COLUMN),
        [Some("raw/orders/a.csv".into())]
    );
    let at = b
        .column_by_name(INGESTED_AT_COLUMN)
        .expect("lineage")
        .as_primitive::<TimestampMicrosecondType>();
    assert_eq!(at.value(0), opts().ingested_at.timestamp_micros());
    // No correlation id (a local conversion): null, and the column is nullable.
    assert_eq!(strings(&b, CORRELATION_ID_COLUMN), [None]);

    let mut with_id = opts();
    with_id.correlation_id = Some("arn:aws:states:r:1:execution:m:e1".into());
    let out = ok(b"a\n1\n2\n", &with_id);
    let b = batch(&out.parquet);
    assert_eq!(
        strings(&b, CORRELATION_ID_COLUMN),
        [
            Some("arn:aws:states:r:1:execution:m:e1".into()),
            Some("arn:aws:states:r:1:execution:m:e1".into())
        ]
    );
    let footer = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet))
        .expect("parquet")
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    assert!(footer.iter().any(|kv| kv.key == "tributary.correlation_id"
        && kv.value.as_deref() == Some("arn:aws:states:r:1:execution:m:e1")));
}

#[test]
fn infers_types_from_the_sample() {
    let out = ok(b"id,price,when,zip,flag,note\n1,2.5,2026-11-21,00501,true,x\n2,3,2026-11-22,10001,false,\n", &opts());
    let types: Vec<String> = out
        .summary
        .columns
        .iter()
        .map(|c| c.column_type.to_string())
        .collect();
    assert_eq!(
        types,
        ["int64", "float64", "date", "string", "bool", "string"]
    );
    assert_eq!(out.summary.schema_source, SchemaSource::Inferred);
    assert_eq!(
        strings(&batch(&out.parquet), "zip"),
        [Some("00501".into()), Some("10001".into())]
    );
}

#[test]
fn quarantines_rows_with_the_wrong_field_count_and_keeps_the_line_number() {
    let out = ok(b"a,b\n1,2\n3\n4,5,6\n7,8\n", &opts());
    assert_eq!(
        (
            out.summary.rows_in,
            out.summary.rows_out,
            out.summary.rows_rejected
        ),
        (4, 2, 2)
    );
    let lines: Vec<&str> = out.quarantine.lines().collect();
    assert_eq!(lines[0], "_line,_reason,a,b");
    assert_eq!(lines[1], "3,\"expected 2 fields, found 1\",3");
    assert_eq!(lines[2], "4,\"expected 2 fields, found 3\",4,5,6");
    assert_eq!(ints(&batch(&out.parquet), "a"), [Some(1), Some(7)]);
}

#[test]
fn quarantines_values_that_do_not_parse_with_every_reason() {
    let mut o = opts();
    o.schema = schema(
        r#"{"columns":[{"name":"id","type":"string","nullable":false},{"name":"qty","type":"int64"},{"name":"price","type":"decimal(6,2)"}]}"#,
    );
    let out = ok(
        b"id,qty,price\nA,1,1.00\n,x,1.234\nC,2,99999.99\nD,3,abc\n",
        &o,
    );
    assert_eq!(out.summary.rows_rejected, 3);
    let q: Vec<csv::StringRecord> = csv::Reader::from_reader(out.quarantine.as_bytes())
        .records()
        .collect::<Result<_, _>>()
        .expect("quarantine csv");
    assert_eq!(&q[0][0], "3");
    assert!(
        q[0][1].contains("\"id\": empty value in a non-nullable column"),
        "{}",
        &q[0][1]
    );
    assert!(
        q[0][1].contains("\"qty\": \"x\" is not a valid int64"),
        "{}",
        &q[0][1]
    );
    assert!(
        q[0][1].contains("\"price\": \"1.234\" has more than 2 decimal places"),
        "{}",
        &q[0][1]
    );
    assert!(
        q[1][1].contains("does not fit decimal(6,2)"),
        "{}",
        &q[1][1]
    );
    assert!(
        q[2][1].contains("\"abc\" is not a valid decimal(6,2)"),
        "{}",
        &q[2][1]
    );
    assert_eq!(
        (&q[2][2], &q[2][3], &q[2][4]),
        ("D", "3", "abc"),
        "original fields are kept"
    );
    assert_eq!(strings(&batch(&out.parquet), "id"), [Some("A".into())]);
}

#[test]
fn a_rejected_row_leaves_no_partial_values_behind() {
    let mut o = opts();
    o.schema = schema(
        r#"{"columns":[{"name":"a","type":"string"},{"name":"b","type":"int64"},{"name":"c","type":"string"}]}"#,
    );
    let out = ok(b"a,b,c\nx1,1,y1\nx2,bad,y2\nx3,3,y3\n", &o);
    let b = batch(&out.parquet);
    assert_eq!(strings(&b, "a"), [Some("x1".into()), Some("x3".into())]);
    assert_eq!(ints(&b, "b"), [Some(1), Some(3)]);
    assert_eq!(strings(&b, "c"), [Some("y1".into()), Some("y3".into())]);
}

#[test]
fn handles_bom_crlf_quoted_newlines_and_doubled_quotes() {
    let csv = b"\xEF\xBB\xBFid,vendor,note\r\n1,\"Acme, Inc.\",\"line one\r\nline two\"\r\n2,\"The \"\"Best\"\" Co\",plain\r\n3\r\n";
    let out = ok(csv, &opts());
    let b = batch(&out.parquet);
    assert_eq!(
        out.summary.columns[0].name, "id",
        "the BOM is not part of the first name"
    );
    assert_eq!(
        strings(&b, "vendor"),
        [Some("Acme, Inc.".into()), Some("The \"Best\" Co".into())]
    );
    assert_eq!(
        strings(&b, "note"),
        [Some("line one\r\nline two".into()), Some("plain".into())]
    );
    // Row 3 starts on physical line 5: the quoted newline moved it down one.
    assert!(
        out.quarantine
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("5,")),
        "{}",
        out.quarantine
    );
}

#[test]
fn line_numbers_count_blank_lines_and_crlf() {
    let out = ok(b"a,b\r\n1,2\r\n\r\nbad\r\n\"x\ny\",2\n\nbad\n", &opts());
    let lines: Vec<&str> = out
        .quarantine
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(lines, ["4", "8"]);
}

#[test]
fn gunzips_by_content_not_by_name() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"a,b\n1,x\n2,y\n").expect("gzip");
    let data = gz.finish().expect("gzip");
    let out = ok(&data, &opts());
    assert_eq!(out.summary.rows_out, 2);
    assert_eq!(
        out.summary.bytes_in,
        data.len() as u64,
        "bytes_in counts stored (compressed) bytes"
    );
}

#[test]
fn a_truncated_gzip_is_an_input_error() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b"a,b\n1,x\n".repeat(1000)).expect("gzip");
    let data = gz.finish().expect("gzip");
    let err = run(&data[..data.len() / 2], &opts())
        .err()
        .expect("truncated gzip fails");
    assert!(err.is_input_error(), "{err}");
}

#[test]
fn a_header_only_file_converts_to_zero_rows() {
    let out = ok(b"a,b\n", &opts());
    assert_eq!((out.summary.rows_in, out.summary.rows_out), (0, 0));
    let meta = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet))
        .expect("valid parquet")
        .metadata()
        .clone();
    assert_eq!(meta.file_metadata().num_rows(), 0);
    assert_eq!(
        meta.file_metadata().schema_descr().num_columns(),
        5,
        "two data columns and three lineage columns"
    );
}

#[test]
fn empty_input_is_a_clear_error() {
    assert!(matches!(run(b"", &opts()), Err(ConvertError::Empty)));
    assert!(matches!(run(b"\n\n", &opts()), Err(ConvertError::Empty)));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())
        .finish()
        .expect("gzip");
    assert!(matches!(run(&gz, &opts()), Err(ConvertError::Empty)));
}

#[test]
fn a_record_longer_than_the_limit_is_a_clear_input_error() {
    // An unclosed quote swallows the rest of the file into one record.
    let mut input = b"id,note\n1,fine\n2,\"never closed\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 600_000));
    let mut o = opts();
    o.max_record_bytes = 512 * 1024;
    let Err(err) = run(&input, &o) else {
        panic!("a record over the limit must fail")
    };
    assert!(
        matches!(err, ConvertError::RecordTooLarge { line: 3, limit } if limit == 512 * 1024),
        "{err:?}"
    );
    assert!(err.is_input_error());
    assert!(err.to_string().contains("line 3"), "{err}");
    o.max_record_bytes = 1024 * 1024;
    assert_eq!(
        ok(&input, &o).summary.rows_in,
        2,
        "under the limit it is a record"
    );
}

#[test]
fn a_non_utf8_header_is_a_clear_error_and_non_utf8_rows_are_quarantined() {
    assert!(matches!(
        run(b"caf\xe9,b\n1,2\n", &opts()),
        Err(ConvertError::HeaderNotUtf8)
    ));
    let out = ok(b"name,n\ncaf\xe9,1\nok,2\n", &opts());
    assert_eq!(out.summary.rows_rejected, 1);
    let q: Vec<csv::ByteRecord> = csv::Reader::from_reader(out.quarantine.as_bytes())
        .byte_records()
        .collect::<Result<_, _>>()
        .expect("csv");
    assert_eq!(&q[0][1], b"column \"name\": value is not valid UTF-8");
}

/// Inference reads each record's text from one check of the whole sample; a record that is not valid text still
/// shows its valid fields (here `2.5`, which makes `a` a float), and its bad one is quarantined.
#[test]
fn inference_sees_the_valid_fields_of_a_record_that_is_not_valid_text() {
    for input in [
        &b"a,b\n1,x\n2.5,\xFF\n3,y\n"[..],
        // A character split across two records: the whole sample is valid text, neither record alone is.
        &b"a,b\n1,x\n2.5,\xC3\n\xA9,y\n4,z\n"[..],
    ] {
        let out = ok(input, &opts());
        let types: Vec<ColumnType> = out.summary.columns.iter().map(|c| c.column_type).collect();
        assert_eq!(types, [ColumnType::Float64, ColumnType::String]);
        assert!(out.summary.rows_rejected >= 1, "{}", out.quarantine);
    }
}

#[test]
fn duplicate_and_blank_header_names_get_unique_names() {
    let out = ok(b"id,id,,id_2\n1,2,3,4\n", &opts());
    let names: Vec<&str> = out
        .summary
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["id", "id_2", "column_3", "id_2_2"]);
}

#[test]
fn declared_columns_are_matched_by_name_and_extra_columns_ignored() {
    let mut o = opts();
    o.schema =
        schema(r#"{"columns":[{"name":"b","type":"int64"},{"name":"missing","type":"string"}]}"#);
    let out = ok(b"a,B\nx,1\n", &o);
    assert_eq!(out.summary.ignored_columns, ["a"]);
    let b = batch(&out.parquet);
    assert_eq!(ints(&b, "b"), [Some(1)]);
    assert_eq!(strings(&b, "missing"), [None]);
}

#[test]
fn a_missing_non_nullable_column_is_an_error() {
    let mut o = opts();
    o.schema = schema(r#"{"columns":[{"name":"id","type":"string","nullable":false}]}"#);
    assert!(matches!(run(b"a\n1\n", &o), Err(ConvertError::MissingColumn(c)) if c == "id"));
}

#[test]
fn a_declared_string_column_the_file_lacks_is_null_even_beside_rejected_rows() {
    // Regression: the missing string column was appended before the row was checked, and a rejected row left
    // its null behind ("all columns in a record batch must have the same length").
    let mut o = opts();
    o.schema = schema(
        r#"{"columns":[{"name":"n","type":"int64"},{"name":"channel","type":"string","nullable":true}]}"#,
    );
    let out = ok(b"n\n1\nx\n3\n", &o);
    let b = batch(&out.parquet);
    assert_eq!(ints(&b, "n"), [Some(1), Some(3)]);
    assert_eq!(strings(&b, "channel"), [None, None]);
    assert_eq!(out.summary.rows_rejected, 1);
}

#[test]
fn lineage_names_in_the_input_are_refused() {
    assert!(matches!(
        run(b"a,_source_key\n1,2\n", &opts()),
        Err(ConvertError::ReservedColumn(_))
    ));
}

#[test]
fn many_batches_keep_every_row_in_order() {
    let mut o = opts();
    o.batch_rows = 7;
    o.row_group_bytes = 1;
    let mut csv = b"n,s\n".to_vec();
    for i in 0..100 {
        csv.extend_from_slice(format!("{i},v{i}\n").as_bytes());
    }
    let out = ok(&csv, &o);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet)).expect("parquet");
    assert!(
        reader.metadata().num_row_groups() > 1,
        "small row groups were flushed"
    );
    let values: Vec<i64> = reader
        .build()
        .expect("reader")
        .flat_map(|b| {
            b.expect("batch")
                .column(0)
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert_eq!(values, (0..100).collect::<Vec<i64>>());
}

#[test]
fn inference_sample_rows_are_converted_too() {
    let mut o = opts();
    o.sample_rows = 2;
    let out = ok(b"n\n1\n2\n3\nfour\n", &o);
    assert_eq!(out.summary.columns[0].column_type, ColumnType::Int64);
    assert_eq!((out.summary.rows_out, out.summary.rows_rejected), (3, 1));
}

#[test]
fn quality_gate_compares_the_reject_ratio_with_the_maximum() {
    let out = ok(b"n\n1\nx\n", &{
        let mut o = opts();
        o.schema = schema(r#"{"columns":[{"name":"n","type":"int64"}]}"#);
        o
    });
    assert!((out.summary.reject_ratio() - 0.5).abs() < 1e-9);
    assert!(quality_gate(&out.summary, 0.5).is_ok());
    let err = quality_gate(&out.summary, 0.02).expect_err("gate fails");
    assert_eq!((err.rejected, err.total), (1, 2));
    let empty = ok(b"n\n", &opts()).summary;
    assert!(
        quality_gate(&empty, 0.0).is_ok(),
        "an empty file passes any gate"
    );
}

#[test]
fn a_failing_output_is_reported_not_panicked() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let err =
        convert(&b"a\n1\n"[..], &mut Broken, &mut Vec::new(), &opts()).expect_err("write fails");
    assert!(!err.is_input_error());
}

#[test]
fn invalid_utf8_and_wrong_width_rows_are_each_quarantined_once_across_batches() {
    let mut o = opts();
    o.batch_rows = 2;
    o.sample_rows = 1;
    let csv = b"name,n\nok,1\n\xff\nbad\xfe,2\nfine,3\nalso\xff,4\nlast,5\n";
    let out = ok(csv, &o);
    assert_eq!(
        (
            out.summary.rows_in,
            out.summary.rows_out,
            out.summary.rows_rejected
        ),
        (6, 3, 3)
    );
    let q: Vec<csv::ByteRecord> = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(&out.quarantine_raw[..])
        .byte_records()
        .collect::<Result<_, _>>()
        .expect("csv");
    let lines: Vec<&[u8]> = q.iter().map(|r| &r[0]).collect();
    assert_eq!(lines, [&b"3"[..], b"4", b"6"]);
    assert_eq!(&q[0][1], b"expected 2 fields, found 1");
    assert_eq!(&q[1][1], b"column \"name\": value is not valid UTF-8");
    assert_eq!(&q[1][2], b"bad\xfe", "the original bytes are kept");
    assert_eq!(
        strings(&batch(&out.parquet), "name"),
        [Some("ok".into()), Some("fine".into()), Some("last".into())]
    );
}

#[test]
fn a_character_split_across_two_records_quarantines_both_never_nulls() {
    // "\xc3" ends one record and "\xa9" starts the next: together they are "é", so the whole-buffer check passes.
    let out = ok(b"a,b\nx,\xc3\n\xa9,y\nok,fine\n", &opts());
    assert_eq!(
        (
            out.summary.rows_in,
            out.summary.rows_out,
            out.summary.rows_rejected
        ),
        (3, 1, 2)
    );
    let q: Vec<csv::ByteRecord> = csv::Reader::from_reader(&out.quarantine_raw[..])
        .byte_records()
        .collect::<Result<_, _>>()
        .expect("csv");
    assert_eq!(&q[0][0], b"2");
    assert_eq!(&q[0][1], b"column \"b\": value is not valid UTF-8");
    assert_eq!(&q[0][3], b"\xc3");
    assert_eq!(&q[1][0], b"3");
    assert_eq!(&q[1][1], b"column \"a\": value is not valid UTF-8");
    assert_eq!(&q[1][2], b"\xa9");
    let b = batch(&out.parquet);
    assert_eq!(strings(&b, "a"), [Some("ok".into())]);
    assert_eq!(strings(&b, "b"), [Some("fine".into())]);
}

/// One generated CSV value: edge cases for every type the inference or a schema may pick, and bytes that are
/// not text.
fn random_field(next: &mut impl FnMut() -> u64) -> Vec<u8> {
    const VALUES: [&[u8]; 24] = [
        b"",
        b"0",
        b"-0",
        b"007",
        b"12",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"1e400",
        b"NaN",
        b"3.14",
        b".5",
        b"\"1,5\"",
        b"2026-02-30",
        b"2026-11-21",
        b"2026-11-21T10:00:00+01:00",
        b"true",
        b"no",
        b"\"quoted, comma\"",
        b"\"a \"\"doubled\"\" quote\"",
        b"\"multi\nline\"",
        b"caf\xc3\xa9",
        b"\xff",
        b"\xc3",
        b"\xa9",
    ];
    let v = VALUES[(next() % VALUES.len() as u64) as usize];
    if next().is_multiple_of(5) && !v.starts_with(b"\"") {
        let mut padded = b" ".to_vec();
        padded.extend_from_slice(v);
        padded
    } else {
        v.to_vec()
    }
}

/// What a generated field holds once read as CSV: quotes removed, `""` as `"`.
fn unquoted(field: &[u8]) -> Vec<u8> {
    match field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
    {
        Some(inner) => String::from_utf8_lossy(inner)
            .replace("\"\"", "\"")
            .into_bytes(),
        None => field.to_vec(),
    }
}

#[test]
fn every_generated_row_is_converted_in_order_or_quarantined_with_its_line() {
    let mut next = tributary_testkit::seeded_rng(0x51f1_5eed_d00d_cafe);
    let (mut converted, mut quarantined) = (0, 0);
    for case in 0..300 {
        let width = 1 + (next() % 4) as usize;
        let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        let mut csv = header.join(",").into_bytes();
        let mut rows: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
        let mut line = 1;
        for _ in 0..(next() % 40) {
            csv.extend_from_slice(if next().is_multiple_of(4) {
                b"\r\n"
            } else {
                b"\n"
            });
            line += 1;
            let mut fields: Vec<Vec<u8>> = (0..width).map(|_| random_field(&mut next)).collect();
            if fields.len() == 1 && fields[0].is_empty() {
                // A line with nothing on it is a blank line, which CSV skips: not a record.
                fields[0] = b"0".to_vec();
            }
            rows.push((line, fields.iter().map(|f| unquoted(f)).collect()));
            line += fields
                .iter()
                .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
                .sum::<u64>();
            csv.extend_from_slice(&fields.join(&b","[..]));
        }
        if next().is_multiple_of(2) {
            csv.push(b'\n');
        }
        let mut o = opts();
        o.batch_rows = 1 + (next() % 8) as usize;
        o.sample_rows = 1 + (next() % 16) as usize;
        let out = ok(&csv, &o);
        let rejected: std::collections::HashMap<u64, csv::ByteRecord> = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&out.quarantine_raw[..])
            .byte_records()
            .map(|r| {
                let r = r.expect("quarantine is CSV");
                let line = std::str::from_utf8(&r[0])
                    .expect("line")
                    .parse()
                    .expect("number");
                (line, r)
            })
            .collect();
        let b = (out.summary.rows_out > 0).then(|| batch(&out.parquet));
        let mut at = 0;
        for (line, fields) in &rows {
            if let Some(q) = rejected.get(line) {
                quarantined += 1;
                let original: Vec<&[u8]> = q.iter().skip(2).collect();
                assert_eq!(
                    original,
                    fields.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                    "case {case} line {line}"
                );
                continue;
            }
            converted += 1;
            let b = b.as_ref().unwrap_or_else(|| {
                panic!("case {case}: line {line} is neither out nor quarantined")
            });
            for (i, field) in fields.iter().enumerate() {
                let col = b.column_by_name(&header[i]).expect("column");
                let text = std::str::from_utf8(field).expect("converted rows are text");
                let here = format!("case {case} line {line} column {}", header[i]);
                let strings = col.as_string_opt::<i32>();
                if text.is_empty() || (strings.is_none() && text.trim().is_empty()) {
                    assert!(col.is_null(at), "{here}: empty is not null");
                } else if let Some(strings) = strings {
                    // Text columns keep the value as written, spaces included.
                    assert_eq!(
                        strings.is_valid(at).then(|| strings.value(at)),
                        Some(text),
                        "{here}"
                    );
                } else {
                    assert!(!col.is_null(at), "{here}: {text:?} became null");
                }
            }
            at += 1;
        }
        assert_eq!(
            at, out.summary.rows_out as usize,
            "case {case}: extra output rows"
        );
        assert_eq!(
            rejected.len(),
            out.summary.rows_rejected as usize,
            "case {case}"
        );
    }
    assert!(
        converted > 1000 && quarantined > 300,
        "{converted} {quarantined}"
    );
}

fn batch_all(parquet: &[u8]) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(parquet))
        .expect("valid parquet")
        .build()
        .expect("reader");
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("batches");
    let schema = batches[0].schema();
    let columns = (0..schema.fields().len())
        .map(|i| {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            arrow_select::concat::concat(&parts).expect("concat")
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("batch")
}

#[test]
fn every_number_of_workers_writes_the_same_bytes() {
    // Mixed types, rejected rows spread over many raw batches, row groups cut by size: the typing workers finish
    // out of order and the encoding workers share the columns, and the outputs must not show it.
    let mut csv = b"id,amount,when,day,ok,note,code\n".to_vec();
    for i in 0..5_000_u32 {
        let amount = if i % 97 == 0 {
            "x".to_owned()
        } else {
            format!("{}.{:02}", i * 7 % 1000, i % 100)
        };
        let when = format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60);
        let note = if i % 5 == 0 {
            String::new()
        } else {
            format!("\"note, {i} \"\"q\"\"\"")
        };
        csv.extend_from_slice(
            format!(
                "{i},{amount},{when},2026-11-{:02},{},{note},C{}\n",
                1 + i % 28,
                i % 2 == 0,
                i % 13
            )
            .as_bytes(),
        );
    }
    let decl = schema(
        r#"{"columns": [{"name": "id", "type": "int64", "nullable": false},
            {"name": "amount", "type": "decimal(12,2)"}, {"name": "when", "type": "timestamp"},
            {"name": "day", "type": "date"}, {"name": "ok", "type": "bool"}, {"name": "note", "type": "string"},
            {"name": "code", "type": "string"}]}"#,
    );
    // Batches cut by rows, then by the CSV bytes they hold (which worker typed what must not move the cuts);
    // each setting twice.
    // Threads 1, 2 and 4 encode in 1, 3 and 2 lanes: one lane against several, whatever the machine.
    let outputs: Vec<Out> = [(1, 300, 1 << 30), (2, 300, 1 << 30), (4, 300, 1 << 30)]
        .into_iter()
        .chain([
            (1, 1 << 20, 20_000),
            (2, 1 << 20, 20_000),
            (4, 1 << 20, 20_000),
        ])
        .flat_map(|setting| [setting, setting])
        .map(|(threads, batch_rows, batch_bytes)| {
            let mut o = opts();
            o.schema = decl.clone();
            o.threads = threads;
            o.lanes = [1, 3, 0, 2][threads - 1];
            o.batch_rows = batch_rows;
            o.batch_bytes = batch_bytes;
            o.row_group_bytes = 16 * 1024;
            ok(&csv, &o)
        })
        .collect();
    // Tokenizing 300 rows takes a fraction of typing them: the reading thread typed some batches itself.
    if cpus() > 1 {
        assert!(READER_TYPED.load(Ordering::Relaxed) > 0);
    }
    let one = &outputs[0];
    assert_eq!(one.summary.rows_rejected, 52, "{:?}", one.summary);
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(one.parquet.clone()))
        .expect("parquet");
    assert!(reader.metadata().num_row_groups() > 3, "several row groups");
    for (i, other) in outputs.iter().enumerate() {
        assert_eq!(other.quarantine_raw, one.quarantine_raw);
        // Same cuts, same bytes: within each batch setting, whatever the workers.
        let first_of_setting = &outputs[i / 6 * 6];
        assert_eq!(other.summary, first_of_setting.summary);
        assert!(
            other.parquet == first_of_setting.parquet,
            "run {i}: the Parquet bytes differ"
        );
        assert_eq!(
            batch(&other.parquet).num_rows(),
            batch(&one.parquet).num_rows()
        );
    }
}

#[test]
fn a_row_group_dealt_again_mid_group_writes_the_same_bytes() {
    // One row group of 40 small batches: with more than one lane, its writers are taken back after the first
    // parts and dealt again by what each column took, so columns change lanes mid-group.
    let mut csv = b"id,note,amount,code\n".to_vec();
    for i in 0..4_000_u32 {
        let note = "a long note ".repeat((i % 7) as usize);
        csv.extend_from_slice(
            format!("{i},{note},{}.{:02},C{}\n", i % 1000, i % 100, i % 13).as_bytes(),
        );
    }
    let before = REDEALT.load(Ordering::Relaxed);
    let outputs: Vec<Vec<u8>> = [1, 2, 3, 4]
        .into_iter()
        .map(|lanes| {
            let mut o = opts();
            o.lanes = lanes;
            o.batch_rows = 100;
            ok(&csv, &o).parquet
        })
        .collect();
    assert!(
        REDEALT.load(Ordering::Relaxed) >= before + 3,
        "each run with more than one lane dealt its row group again"
    );
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(outputs[0].clone())).expect("parquet");
    assert_eq!(reader.metadata().num_row_groups(), 1);
    assert_eq!(batch(&outputs[0]).num_rows(), 4_000);
    for (k, other) in outputs.iter().enumerate() {
        assert!(
            other == &outputs[0],
            "{} lanes: the Parquet bytes differ",
            k + 1
        );
    }
}

/// Runs `convert` on another thread; a conversion that has not ended within a minute is a hang.
fn within_a_minute(
    input: Vec<u8>,
    output: impl Write + Send + 'static,
    quarantine: impl Write + Send + 'static,
    opts: Options,
) -> Result<Summary, ConvertError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut output, mut quarantine) = (output, quarantine);
        let _ = tx.send(convert(&input[..], &mut output, &mut quarantine, &opts));
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the conversion ended instead of hanging")
}

/// A sink that takes `left` bytes, then fails.
struct FailsAfter {
    left: usize,
}

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_output_or_quarantine_failing_mid_file_fails_the_conversion_without_hanging() {
    let mut csv = b"n,s\n".to_vec();
    for i in 0..400_000 {
        // One row in ten cannot be an integer.
        let n = if i % 10 == 0 {
            "x".to_owned()
        } else {
            i.to_string()
        };
        csv.extend_from_slice(format!("{n},some text {i}\n").as_bytes());
    }
    for threads in [1, 2, 4] {
        let mut o = opts();
        o.schema = schema(
            r#"{"columns": [{"name": "n", "type": "int64"}, {"name": "s", "type": "string"}]}"#,
        );
        o.threads = threads;
        o.batch_rows = 100;
        o.row_group_bytes = 4096;
        let err = within_a_minute(
            csv.clone(),
            FailsAfter { left: 64 * 1024 },
            Vec::new(),
            o.clone(),
        )
        .expect_err("the output fails");
        assert!(!err.is_input_error(), "{err}");
        // The appending thread's own error, not the encoder's stopping because it is gone.
        assert!(err.to_string().contains("disk full"), "{err}");
        let err = within_a_minute(csv.clone(), Vec::new(), FailsAfter { left: 1024 }, o)
            .expect_err("the quarantine fails");
        assert!(!err.is_input_error(), "{err}");
    }
}

#[test]
fn only_columns_whose_sample_repeats_are_dictionary_encoded() {
    let mut csv = b"id,category,note\n".to_vec();
    for i in 0..2_000 {
        csv.extend_from_slice(format!("{i},c{},note number {i}\n", i % 7).as_bytes());
    }
    for declared in [
        None,
        schema(
            r#"{"columns": [{"name": "id", "type": "int64"}, {"name": "category", "type": "string"}, {"name": "note", "type": "string"}]}"#,
        ),
    ] {
        let mut o = opts();
        o.schema = declared;
        let out = ok(&csv, &o);
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet)).expect("parquet");
        let group = reader.metadata().row_group(0);
        let dictionary = |name: &str| {
            let column = group
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .expect("column");
            column.dictionary_page_offset().is_some()
        };
        assert!(dictionary("category"), "7 values repeat");
        assert!(
            !dictionary("id") && !dictionary("note"),
            "every value distinct"
        );
        // The constant lineage columns keep their dictionary.
        assert!(dictionary("_source_key"));
    }
}

#[test]
fn a_string_column_of_many_values_from_a_bounded_set_is_dictionary_encoded() {
    // `sku` draws from 20,000 values: most of the sample's are distinct, but it repeats enough to tell that the
    // set is bounded, and its dictionary fits a page. `code` draws from too many values for one page, `n` is a
    // number (its dictionary would be Parquet's writer's) and `ref` never repeats.
    let mut csv = b"id,sku,code,n,ref\n".to_vec();
    let mut x: u64 = 42;
    let mut draw = |n: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % n
    };
    for i in 0..12_000 {
        let (sku, code, n) = (draw(20_000), draw(2_000_000), draw(20_000));
        csv.extend_from_slice(format!("{i},sku-{sku:05},code-{code:07},{n},r{i}\n").as_bytes());
    }
    let declared = r#"{"columns": [{"name": "id", "type": "int64"}, {"name": "sku", "type": "string"},
        {"name": "code", "type": "string"}, {"name": "n", "type": "int64"}, {"name": "ref", "type": "string"}]}"#;
    for declared in [None, schema(declared)] {
        let mut o = opts();
        o.schema = declared;
        let out = ok(&csv, &o);
        let dictionary = dictionary_encoded(&out.parquet);
        assert!(
            dictionary("sku"),
            "20,000 values, each 13 bytes in a dictionary page"
        );
        assert!(
            !dictionary("code"),
            "2,000,000 values would overflow the page"
        );
        assert!(!dictionary("n"), "a number keeps the half-distinct rule");
        assert!(
            !dictionary("id") && !dictionary("ref"),
            "every value distinct"
        );
        let sku = |line: &[u8]| {
            String::from_utf8_lossy(line)
                .split(',')
                .nth(1)
                .map(str::to_owned)
        };
        let expected: Vec<Option<String>> = csv
            .split(|&c| c == b'\n')
            .skip(1)
            .filter(|line| !line.is_empty())
            .map(sku)
            .collect();
        assert_eq!(strings(&batch(&out.parquet), "sku"), expected);
    }

    // Wide rows, with a declared schema: the sample is one raw batch, a few hundred rows, in which values that
    // never repeat would be estimated within a page. With no value seen twice, the sample tells nothing.
    let mut csv = b"ref,pad\n".to_vec();
    for i in 0..1_000 {
        csv.extend_from_slice(format!("r{i},{}\n", "p".repeat(5_000)).as_bytes());
    }
    let mut o = opts();
    o.schema = schema(
        r#"{"columns": [{"name": "ref", "type": "string"}, {"name": "pad", "type": "string"}]}"#,
    );
    let out = ok(&csv, &o);
    let dictionary = dictionary_encoded(&out.parquet);
    assert!(!dictionary("ref"), "no repeats in a small sample");
    assert!(dictionary("pad"), "one value");
}

/// Whether the first row group's chunk of a named column has a dictionary page.
fn dictionary_encoded(parquet: &[u8]) -> impl Fn(&str) -> bool {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet.to_vec())).expect("parquet");
    let group = reader.metadata().row_group(0).clone();
    move |name: &str| {
        group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .expect("column")
            .dictionary_page_offset()
            .is_some()
    }
}

#[test]
fn lineage_statistics_are_exact_in_every_row_group() {
    use parquet::arrow::arrow_reader::ArrowReaderOptions;
    use parquet::file::metadata::PageIndexPolicy;
    let mut csv = b"n,s\n".to_vec();
    for i in 0..5_000 {
        csv.extend_from_slice(format!("{i},v{i}\n").as_bytes());
    }
    // A value longer than 64 bytes keeps the writer's own statistics, which truncate it.
    let long = format!("raw/{}.csv", "k".repeat(100));
    for (key, id) in [
        ("raw/orders/a.csv", None),
        ("raw/orders/a.csv", Some("run-7")),
        (long.as_str(), Some(long.as_str())),
    ] {
        let mut o = opts();
        o.source_key = key.to_owned();
        o.correlation_id = id.map(str::to_owned);
        o.batch_rows = 1000;
        o.row_group_bytes = 8 * 1024;
        let out = ok(&csv, &o);
        let bytes = Bytes::from(out.parquet);
        let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
            bytes.clone(),
            ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required),
        )
        .expect("parquet with its page index");
        let meta = reader.metadata().clone();
        assert!(meta.num_row_groups() > 1, "several row groups");
        let rows: usize = reader
            .build()
            .expect("reader")
            .map(|b| b.expect("batch").num_rows())
            .sum();
        assert_eq!(rows, 5_000);
        let at = o.ingested_at.timestamp_micros().to_le_bytes();
        for group in meta.row_groups() {
            let rows = u64::try_from(group.num_rows()).expect("rows");
            let stats = |name: &str| {
                group
                    .columns()
                    .iter()
                    .find(|c| c.column_path().string() == name)
                    .and_then(|c| c.statistics())
                    .unwrap_or_else(|| panic!("{name} has statistics"))
                    .clone()
            };
            let exact = |name: &str, value: &[u8]| {
                let s = stats(name);
                assert_eq!(s.min_bytes_opt(), Some(value), "{name}");
                assert_eq!(s.max_bytes_opt(), Some(value), "{name}");
                assert_eq!(s.null_count_opt(), Some(0), "{name}");
            };
            let truncated = |name: &str, value: &[u8]| {
                let s = stats(name);
                assert_eq!(s.min_bytes_opt(), Some(&value[..64]), "{name}");
                let max = s.max_bytes_opt().expect("max");
                assert!(
                    max.len() <= 64 && max > value,
                    "{name}: a bound above the value"
                );
                assert_eq!(s.null_count_opt(), Some(0), "{name}");
            };
            let text = |name: &str, value: &str| match value.len() {
                0..=64 => exact(name, value.as_bytes()),
                _ => truncated(name, value.as_bytes()),
            };
            text(SOURCE_KEY_COLUMN, key);
            exact(INGESTED_AT_COLUMN, &at);
            match id {
                Some(id) => text(CORRELATION_ID_COLUMN, id),
                None => {
                    let s = stats(CORRELATION_ID_COLUMN);
                    assert_eq!((s.min_bytes_opt(), s.max_bytes_opt()), (None, None));
                    assert_eq!(s.null_count_opt(), Some(rows));
                }
            }
        }
    }
}

#[test]
fn text_fields_copied_as_blocks_keep_exactly_their_bytes() {
    let column = Column {
        name: "s".into(),
        column_type: ColumnType::String,
        nullable: true,
    };
    // Short fields (copied as a 16-byte block, the bytes after them included), fields of 16 and 17 bytes, a
    // multi-byte character, an empty field (null) and short fields too near the data's end for a block.
    let data = "a,bb,,0123456789abcdef,0123456789abcdefg,été,xyz,q".as_bytes();
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b',' {
            spans.push(start..i);
            start = i + 1;
        }
    }
    spans.push(start..data.len());
    let mut b = ColumnBuilder::new(&column, 2);
    for (n, span) in spans.iter().enumerate() {
        b.push_text("s", data, span.clone()).expect("push");
        // A dropped row leaves nothing of its block behind.
        if n == 1 {
            b.push_text("s", data, 6..22).expect("push");
            b.truncate(2);
        }
    }
    let array = b.finish(4).expect("finish");
    let got: Vec<Option<&[u8]>> = array.as_binary::<i32>().iter().collect();
    let want: Vec<Option<&[u8]>> = spans
        .iter()
        .map(|s| Some(&data[s.clone()]).filter(|v| !v.is_empty()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        array.as_binary::<i32>().value_data(),
        "abb0123456789abcdef0123456789abcdefgétéxyzq".as_bytes()
    );
}

#[test]
fn a_string_column_drops_a_half_appended_row() {
    let column = Column {
        name: "s".into(),
        column_type: ColumnType::String,
        nullable: true,
    };
    let mut b = ColumnBuilder::new(&column, 2);
    b.push("s", "é,1").expect("push");
    b.push("s", "rejected later").expect("push");
    b.push_null("s").expect("null");
    b.truncate(1);
    assert_eq!(b.len(), 1);
    b.push("s", "").expect("empty is null");
    b.push("s", "  kept as it is ").expect("push");
    let array = b.finish(4).expect("finish");
    // Text is carried as binary in the typed batches.
    let strings = array.as_binary::<i32>();
    let got: Vec<Option<&[u8]>> = strings.iter().collect();
    assert_eq!(
        got,
        [
            Some("é,1".as_bytes()),
            None,
            Some(b"  kept as it is ".as_slice())
        ]
    );
    // The builder starts the next batch empty.
    b.push("s", "next").expect("push");
    let next = b.finish(4).expect("finish");
    assert_eq!(next.as_binary::<i32>().value(0), b"next");
    assert_eq!(next.len(), 1);
    // A non-nullable column refuses an empty value and keeps nothing of it.
    let required = Column {
        nullable: false,
        ..column
    };
    let mut b = ColumnBuilder::new(&required, 2);
    assert!(b.push("s", "").is_err());
    assert_eq!(b.len(), 0);
}

#[test]
fn numeric_columns_that_snappy_cannot_shrink_are_stored_uncompressed() {
    // `noise`: random 53-bit fractions, incompressible; `reading`: a slow ramp of distinct values, whose bytes
    // repeat; `ts` and `n`: distinct but regular; `flag`: seven values, dictionary-encoded.
    let mut next = tributary_testkit::seeded_rng(0x000C_0DEC_u64);
    let mut csv = b"noise,reading,ts,n,label\n".to_vec();
    let mut noise = Vec::new();
    for i in 0..3_000 {
        let x = (next() >> 11) as f64 / (1_u64 << 53) as f64;
        noise.push(x);
        csv.extend_from_slice(
            format!(
                "{x:?},{}.25,2026-03-01T00:{:02}:{:02}Z,{i},l{}\n",
                1000 + i / 10,
                i / 60 % 60,
                i % 60,
                i % 7
            )
            .as_bytes(),
        );
    }
    let out = ok(&csv, &opts());
    let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet.clone()))
        .expect("parquet");
    let group = reader.metadata().row_group(0);
    let codec = |name: &str| {
        group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .expect("column")
            .compression()
    };
    assert_eq!(codec("noise"), Compression::UNCOMPRESSED);
    for name in ["reading", "ts", "n", "label", "_source_key"] {
        assert_eq!(codec(name), Compression::SNAPPY, "{name}");
    }
    // The values are the same either way.
    let b = batch(&out.parquet);
    let read: Vec<f64> = b
        .column_by_name("noise")
        .expect("noise")
        .as_primitive::<Float64Type>()
        .values()
        .to_vec();
    assert_eq!(read, noise);

    // A sample too small to tell keeps snappy.
    let out = ok(b"x\n0.123456789\n0.987654321\n", &opts());
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(out.parquet)).expect("parquet");
    assert_eq!(
        reader.metadata().row_group(0).column(0).compression(),
        Compression::SNAPPY
    );
}

#[test]
fn zstd_and_none_compress_every_column_alike_to_the_same_values() {
    // Every column takes the codec asked for, but `hash` (random 63-bit integers), which neither snappy nor zstd
    // can shrink; the values are the same whatever the codec. (Random fractions in [0, 1), which snappy leaves
    // alone, zstd shrinks: their exponent bytes repeat, and it entropy-codes them.)
    let mut next = tributary_testkit::seeded_rng(0x2574_D000_u64);
    let words = [
        "pallet",
        "deliver",
        "dock 4",
        "fragile",
        "call ahead",
        "invoice",
        "no returns",
    ];
    let mut csv = b"hash,noise,reading,ts,n,label,note\n".to_vec();
    for i in 0..3_000 {
        let hash = next() >> 1;
        let x = (next() >> 11) as f64 / (1_u64 << 53) as f64;
        let note: Vec<&str> = (0..6).map(|_| words[(next() % 7) as usize]).collect();
        csv.extend_from_slice(
            format!(
                "{hash},{x:?},{}.25,2026-03-01T00:{:02}:{:02}Z,{i},l{},{} #{i}\n",
                1000 + i / 10,
                i / 60 % 60,
                i % 60,
                i % 7,
                note.join(" "),
            )
            .as_bytes(),
        );
    }
    let with = |codec: Codec| {
        let mut o = opts();
        o.compression = codec;
        ok(&csv, &o).parquet
    };
    let codecs = |parquet: &[u8]| -> Vec<(String, Compression)> {
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet.to_vec()))
            .expect("parquet");
        reader
            .metadata()
            .row_group(0)
            .columns()
            .iter()
            .map(|c| (c.column_path().string(), c.compression()))
            .collect()
    };
    let snappy = with(Codec::Snappy);
    let zstd = with(Codec::Zstd(3));
    let none = with(Codec::Uncompressed);
    for (name, compression) in codecs(&zstd) {
        // The footer names the codec, not its level.
        match name.as_str() {
            "hash" => assert_eq!(compression, Compression::UNCOMPRESSED, "{name}"),
            _ => assert!(
                matches!(compression, Compression::ZSTD(_)),
                "{name}: {compression}"
            ),
        }
    }
    for (name, compression) in codecs(&snappy) {
        match name.as_str() {
            "hash" | "noise" => assert_eq!(compression, Compression::UNCOMPRESSED, "{name}"),
            _ => assert_eq!(compression, Compression::SNAPPY, "{name}"),
        }
    }
    for (name, compression) in codecs(&none) {
        assert_eq!(compression, Compression::UNCOMPRESSED, "{name}");
    }
    assert_eq!(batch(&zstd), batch(&snappy));
    assert_eq!(batch(&none), batch(&snappy));
    assert!(
        zstd.len() < snappy.len(),
        "{} against {}",
        zstd.len(),
        snappy.len()
    );
    assert!(
        snappy.len() < none.len(),
        "{} against {}",
        snappy.len(),
        none.len()
    );
}
