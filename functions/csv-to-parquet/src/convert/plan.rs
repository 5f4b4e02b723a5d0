//! The plan: which input field feeds which output column, and with which type.

use super::*;
use parquet::file::properties::DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT;
use std::collections::HashMap;

pub(super) struct Plan {
    pub(super) schema: Schema,
    /// For each output column, the input field index (`None`: absent, nullable, all nulls).
    pub(super) sources: Vec<Option<usize>>,
    pub(super) ignored: Vec<String>,
    pub(super) source: SchemaSource,
}

impl Plan {
    pub(super) fn new(
        header: &[String],
        declared: Option<&Schema>,
        sample: &RawBatch,
    ) -> Result<Self, ConvertError> {
        if let Some(reserved) = header
            .iter()
            .find(|h| LINEAGE_COLUMNS.contains(&h.as_str()))
        {
            return Err(ConvertError::ReservedColumn(reserved.clone()));
        }
        let Some(declared) = declared else {
            let mut inferred = vec![Inferred::default(); header.len()];
            // One check of the whole sample gives each record's text (a check per field took a third of
            // inference's instructions); a record that is not valid text on its own is checked field by field.
            let whole = simdutf8::basic::from_utf8(&sample.data).ok();
            for (r, (_, bytes, ends)) in sample.records().enumerate() {
                if ends.len() != header.len() {
                    continue;
                }
                match whole.and_then(|w| w.get(bytes.clone())) {
                    Some(text) => {
                        for (i, state) in inferred.iter_mut().enumerate() {
                            state.observe(text_field(text, bytes.start, ends, i));
                        }
                    }
                    None => {
                        for (state, field) in inferred.iter_mut().zip(sample.fields(r)) {
                            if let Ok(text) = std::str::from_utf8(field) {
                                state.observe(text);
                            }
                        }
                    }
                }
            }
            let columns = header
                .iter()
                .zip(&inferred)
                .map(|(name, state)| Column {
                    name: name.clone(),
                    column_type: state.column_type(),
                    nullable: true,
                })
                .collect();
            return Ok(Self {
                schema: Schema { columns },
                sources: (0..header.len()).map(Some).collect(),
                ignored: Vec::new(),
                source: SchemaSource::Inferred,
            });
        };
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
        };
        let mut sources = Vec::with_capacity(declared.columns.len());
        for column in &declared.columns {
            let source = find(&column.name);
            if source.is_none() && !column.nullable {
                return Err(ConvertError::MissingColumn(column.name.clone()));
            }
            sources.push(source);
        }
        let ignored = header
            .iter()
            .enumerate()
            .filter(|(i, _)| !sources.contains(&Some(*i)))
            .map(|(_, h)| h.clone())
            .collect();
        Ok(Self {
            schema: declared.clone(),
            sources,
            ignored,
            source: SchemaSource::Declared,
        })
    }
}

impl Plan {
    /// Whether each output column is dictionary-encoded. Yes when at most half of the sample's values are
    /// distinct. Otherwise no (ids, free text, measurements: a dictionary would only cost time and memory until
    /// the writer gives it up at the dictionary page limit), except for a string column whose sample tells that
    /// its values come from a set small enough for one dictionary page ([`bounded_set_bytes`]): product codes,
    /// SKUs. Columns the file lacks, and a sample too small to tell, keep it.
    pub(super) fn dictionary(&self, sample: &RawBatch, width: usize) -> Vec<bool> {
        let records = well_formed(sample, width);
        let rows = records.len();
        if rows < DICTIONARY_SAMPLE_MIN {
            return vec![true; self.sources.len()];
        }
        // One column's values at a time (a wide file's together would be large).
        let mut counts: HashMap<&[u8], u32, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(rows, Default::default());
        self.sources
            .iter()
            .zip(&self.schema.columns)
            .map(|(source, column)| {
                let Some(i) = *source else { return true };
                counts.clear();
                for record in &records {
                    *counts.entry(record.field(sample, i)).or_insert(0) += 1;
                }
                if counts.len() * 2 <= rows {
                    return true;
                }
                // Columns of other types go through Parquet's own writer, whose dictionary costs more than its
                // PLAIN pages (on telemetry's floats: 2.3 % more instructions for a file 0.2 % smaller).
                column.column_type == ColumnType::String
                    && bounded_set_bytes(&counts)
                        .is_some_and(|bytes| bytes <= DEFAULT_DICTIONARY_PAGE_SIZE_LIMIT as f64)
            })
            .collect()
    }

    /// Whether each output column is compressed with `codec`. Not a numeric column without a dictionary whose
    /// sampled values, as Parquet stores them, the codec shrinks by less than [`COMPRESSION_MIN_SAVING`]: random
    /// measurements, coordinates, hashes. Compressing them costs time and buys nothing (on the telemetry file, 7
    /// of 19 float columns came out of snappy at 100 % of their size). A reader decompresses nothing for them
    /// either. Strings, decimals, booleans, dictionary-encoded columns and a sample too small to tell keep the
    /// codec.
    pub(super) fn compressed(
        &self,
        sample: &RawBatch,
        width: usize,
        dictionary: &[bool],
        codec: Codec,
    ) -> Vec<bool> {
        // With no codec there is nothing to judge: every column is stored as it is.
        let compressor = (codec != Codec::Uncompressed)
            .then(|| Compressor::new(codec).ok())
            .flatten();
        let Some(mut compressor) = compressor else {
            return vec![true; self.sources.len()];
        };
        let records = well_formed(sample, width);
        let mut plain = Vec::new();
        let mut scratch = Vec::new();
        self.sources
            .iter()
            .zip(&self.schema.columns)
            .zip(dictionary)
            .map(|((source, column), &dictionary)| {
                let Some(i) = source.filter(|_| !dictionary) else {
                    return true;
                };
                // A value's bytes in a PLAIN page: little-endian, 8 bytes (4 for a date).
                let value: fn(&str) -> Option<[u8; 8]> = match column.column_type {
                    ColumnType::Float64 => |t| parse_f64(t).map(f64::to_le_bytes),
                    ColumnType::Int64 => |t| parse_i64(t).map(i64::to_le_bytes),
                    ColumnType::Timestamp => |t| parse_timestamp(t).map(i64::to_le_bytes),
                    ColumnType::Date => |t| parse_date(t).map(|d| i64::from(d).to_le_bytes()),
                    _ => return true,
                };
                let size = if column.column_type == ColumnType::Date {
                    4
                } else {
                    8
                };
                plain.clear();
                for record in records.iter().take(COMPRESSION_SAMPLE_VALUES) {
                    let parsed = std::str::from_utf8(record.field(sample, i))
                        .ok()
                        .map(trim)
                        .and_then(value);
                    if let Some(bytes) = parsed {
                        plain.extend_from_slice(&bytes[..size]);
                    }
                }
                if plain.len() < COMPRESSION_SAMPLE_MIN_BYTES {
                    return true;
                }
                let Ok(Some(compressed)) = compressor.compress(&plain, &mut scratch) else {
                    return true;
                };
                (compressed.len() as f64) < plain.len() as f64 * (1.0 - COMPRESSION_MIN_SAVING)
            })
            .collect()
    }
}

/// The bytes of a PLAIN dictionary page of every value the sampled column's values are drawn from, estimated from
/// how often the sample repeats them: Chao1's estimate of the number of distinct values, `D + f1 (f1 - 1) /
/// 2 (f2 + 1)` (`f1` values seen once, `f2` twice), each taking the mean size of the distinct values sampled and a
/// 4-byte length. 50,000 codes, sampled in 10,000 rows, come out at 49,000. `None` when fewer than
/// [`CHAO1_MIN_TWICE`] values were seen twice: too few repeats to tell a set from values that never repeat, which
/// a small sample (a declared schema's, of wide rows) would otherwise put within a page.
fn bounded_set_bytes<S>(counts: &HashMap<&[u8], u32, S>) -> Option<f64> {
    let (once, twice) = counts.values().fold((0_u64, 0_u64), |(once, twice), &n| {
        (once + u64::from(n == 1), twice + u64::from(n == 2))
    });
    if twice < CHAO1_MIN_TWICE || counts.is_empty() {
        return None;
    }
    let mean = counts.keys().map(|v| v.len()).sum::<usize>() as f64 / counts.len() as f64;
    let unseen = (once * once.saturating_sub(1)) as f64 / (2 * (twice + 1)) as f64;
    Some((counts.len() as f64 + unseen) * (mean + 4.0))
}

/// A sampled record with the file's width: where it starts, and its fields' ends.
struct Record<'a> {
    start: usize,
    ends: &'a [usize],
}

impl Record<'_> {
    /// Field `i`'s bytes, found from the record's field ends directly.
    fn field<'s>(&self, sample: &'s RawBatch, i: usize) -> &'s [u8] {
        let from = if i == 0 {
            self.start
        } else {
            self.ends[i - 1] + 1
        };
        &sample.data[from..self.ends[i]]
    }
}

fn well_formed(sample: &RawBatch, width: usize) -> Vec<Record<'_>> {
    sample
        .records()
        .filter(|(_, _, ends)| ends.len() == width)
        .map(|(_, bytes, ends)| Record {
            start: bytes.start,
            ends,
        })
        .collect()
}

/// Fewer sampled rows than this cannot tell a repeating column from a distinct one.
const DICTIONARY_SAMPLE_MIN: usize = 100;

/// Fewer values seen exactly twice than this, and the sample's repeats say nothing of a column's set of values
/// (50,000 codes sampled in 10,000 rows: about 830).
const CHAO1_MIN_TWICE: u64 = 10;

/// A column stays compressed unless its codec saves less than this share of its sampled bytes.
const COMPRESSION_MIN_SAVING: f64 = 0.02;

/// Fewer sampled bytes than this (a thousand values) cannot tell whether a column compresses.
const COMPRESSION_SAMPLE_MIN_BYTES: usize = 8 * 1024;

/// The most values of a column sampled for compression (16 KiB of them): enough to judge snappy, which looks
/// for repeats within 64 KiB (and zstd, whose gain over it on such columns is in their bytes' entropy, not in
/// far repeats), and cheap beside a small file's conversion.
const COMPRESSION_SAMPLE_VALUES: usize = 2048;
