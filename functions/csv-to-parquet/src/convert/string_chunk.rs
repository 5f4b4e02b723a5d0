//! A string column chunk, written here rather than by Parquet's column writer. That writer interns every row's
//! value when the dictionary is on (a hash and a comparison) and compares every value with the running minimum and
//! maximum (two more comparisons); on narrow rows this was a quarter of all the work. Here each row's value is
//! looked up once (a short value by its bytes as one 16-byte number, in a cache and then a table), and a page's
//! minimum and maximum are found among the distinct values the page used. Values are compared by their first 16
//! bytes as a number (their bytes only when those tie), and PLAIN pages (no dictionary, or past it) are filled and
//! compressed with no copy or fresh buffer per page.
//!
//! The chunk is made as Parquet's writer makes it: a PLAIN dictionary page first; RLE_DICTIONARY data pages (format
//! v1, definition levels RLE) cut at the row and byte limits, checked every `write_batch_size` rows (every page's
//! rows when the levels are uniform); PLAIN data pages once the dictionary passes its page limit, or from the start
//! with the dictionary off; the same statistics, truncated alike; level histograms; the column and offset indexes.
//! Only which rows share a page, and the bit-packing of runs, may differ. [`StringChunk::eligible`] says which
//! columns this writer takes: flat, optional or required strings, format v1, PLAIN past the dictionary, snappy, zstd
//! or no compression, and no bloom filter, content-defined chunking, page header statistics or distinct counts (the
//! crate builds parquet without encryption).

use super::rle;
use crate::codec::{Codec, Compressor};
use arrow_array::{Array, BinaryArray};
use bytes::Buf;
use bytes::Bytes;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use parquet::basic::{BoundaryOrder, Encoding, EncodingMask, LogicalType, PageType, Type};
use parquet::column::page::{CompressedPage, Page, PageWriteSpec, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, LevelHistogram, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::io::Read;

/// The writer's settings for one column.
struct Limits {
    page_rows: usize,
    page_bytes: usize,
    dictionary_bytes: usize,
    /// Rows between checks of the limits.
    batch: usize,
    statistics: EnabledStatistics,
    statistics_truncate: Option<usize>,
    index_truncate: Option<usize>,
    offset_index: bool,
    codec: Codec,
}

/// The dictionary: each distinct value's bytes, one after another. A value of 15 bytes or fewer is known by its
/// key (its bytes and length in 16 bytes, [`short_key`]): it is first looked for in a small direct-mapped cache,
/// which a repeating column's values nearly always hit (a multiplication and a comparison), then in a table of
/// keys (a hash of the key, a probe and a comparison of two words), which a column of many distinct codes needs
/// nearly every row. A value of 16 bytes or more is found by the hash of its bytes and a comparison of slices.
struct Dictionary {
    hasher: foldhash::fast::FixedState,
    /// Values of 16 bytes or more, by the hash of their bytes.
    table: HashTable<u32>,
    /// Values of 15 bytes or fewer: each key, as two words (24 bytes an entry, where a `u128` would align it to
    /// 32), and its id. At most about 160,000 short values fit the dictionary's 1 MiB page, a table of about
    /// 6.5 MB; a column of 50,000 codes takes 1.6 MB.
    short: HashTable<(u64, u64, u32)>,
    bytes: Vec<u8>,
    /// Each value's end in `bytes`; it starts where the one before ends.
    ends: Vec<usize>,
    cache: Box<[(u128, u32)]>,
    /// The last value of 16 bytes or more.
    last: Option<u32>,
}

/// The most bytes kept before a PLAIN page's values for its levels.
const MAX_RESERVE: usize = 64 * 1024;
/// The most bytes a PLAIN page's buffer is sized for at first (the page limit, up to this); past it, it grows.
const MAX_PLAIN_START: usize = 1 << 20;

/// The cache's slots: 2^10.
const CACHE_BITS: u32 = 10;
/// No short value's key: the length byte of a key is at most 15.
const NO_KEY: u128 = u128::MAX;

impl Dictionary {
    /// A dictionary; `used` false: one that is never used (the column's dictionary is off), with no cache.
    fn new(used: bool) -> Self {
        Self {
            hasher: foldhash::fast::FixedState::default(),
            table: HashTable::new(),
            short: HashTable::new(),
            bytes: Vec::new(),
            ends: Vec::new(),
            cache: vec![(NO_KEY, 0); if used { 1 << CACHE_BITS } else { 0 }].into_boxed_slice(),
            last: None,
        }
    }
}

/// `LOW_BYTES[n]` keeps the low `n` bytes of a `u128`: a load, where building the mask is a shift of 128 bits
/// by a variable amount (a tenth of a dictionary column's instructions per value).
const LOW_BYTES: [u128; 17] = {
    let mut masks = [u128::MAX; 17];
    let mut n = 0;
    while n < 16 {
        masks[n] = (1 << (8 * n)) - 1;
        n += 1;
    }
    masks
};

/// The first `len` (at most 16) bytes from `data[start..]`, little-endian in a `u128`, the bytes past them zero:
/// one 16-byte load when the buffer has 16 bytes from `start`.
#[inline]
fn load16(data: &[u8], start: usize, len: usize) -> u128 {
    match data.get(start..start + 16) {
        Some(window) => {
            let word = u128::from_le_bytes(window.try_into().unwrap_or([0; 16]));
            word & LOW_BYTES[len]
        }
        None => {
            let mut bytes = [0_u8; 16];
            bytes[..len].copy_from_slice(&data[start..start + len]);
            u128::from_le_bytes(bytes)
        }
    }
}

/// A value of at most 15 bytes, with its length, in 16 bytes; `data[start..end]` is the value.
#[inline]
fn short_key(data: &[u8], start: usize, end: usize) -> Option<u128> {
    let len = end - start;
    (len <= 15).then(|| load16(data, start, len) | ((len as u128) << 120))
}

impl Dictionary {
    /// The id of `data[start..end]`, added if it is new.
    #[inline]
    fn intern_at(&mut self, data: &[u8], start: usize, end: usize) -> u32 {
        let Some(key) = short_key(data, start, end) else {
            // A longer value is first compared with the last one (a lineage column holds one value throughout).
            let v = &data[start..end];
            if let Some(last) = self.last
                && self.value(last) == v
            {
                return last;
            }
            let id = self.intern(v);
            self.last = Some(id);
            return id;
        };
        let mixed = ((key as u64) ^ ((key >> 64) as u64).rotate_left(29))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = (mixed >> (64 - CACHE_BITS)) as usize;
        if let Some(&(cached, id)) = self.cache.get(slot)
            && cached == key
        {
            return id;
        }
        let id = self.intern_short(key, &data[start..end]);
        if let Some(entry) = self.cache.get_mut(slot) {
            *entry = (key, id);
        }
        id
    }

    fn value(&self, id: u32) -> &[u8] {
        value(&self.bytes, &self.ends, id)
    }

    /// The id of `v`, a value of 16 bytes or more, added if it is new.
    fn intern(&mut self, v: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(v);
        let (bytes, ends) = (&self.bytes, &self.ends);
        if let Some(&id) = self.table.find(hash, |&id| value(bytes, ends, id) == v) {
            return id;
        }
        let id = self.push(v);
        let (bytes, ends, hasher) = (&self.bytes, &self.ends, &self.hasher);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(value(bytes, ends, id)));
        id
    }

    /// The id of `v`, whose [`short_key`] is `key`, added if it is new.
    fn intern_short(&mut self, key: u128, v: &[u8]) -> u32 {
        let hasher = &self.hasher;
        let (low, high) = (key as u64, (key >> 64) as u64);
        let entry = self.short.entry(
            hasher.hash_one(key),
            |&(l, h, _)| (l, h) == (low, high),
            |&(l, h, _)| hasher.hash_one(u128::from(l) | (u128::from(h) << 64)),
        );
        match entry {
            Entry::Occupied(found) => found.get().2,
            Entry::Vacant(slot) => {
                let id = self.ends.len() as u32;
                slot.insert((low, high, id));
                self.push(v);
                id
            }
        }
    }

    /// Adds `v` as the next id.
    fn push(&mut self, v: &[u8]) -> u32 {
        let id = self.ends.len() as u32;
        self.bytes.extend_from_slice(v);
        self.ends.push(self.bytes.len());
        id
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The dictionary page's size: each value with its 4-byte length.
    fn page_size(&self) -> usize {
        self.bytes.len() + 4 * self.ends.len()
    }
}

fn value<'a>(bytes: &'a [u8], ends: &[usize], id: u32) -> &'a [u8] {
    let id = id as usize;
    let start = if id == 0 { 0 } else { ends[id - 1] };
    &bytes[start..ends[id]]
}

/// The data page being filled.
#[derive(Default)]
struct Filling {
    rows: usize,
    nulls: usize,
    /// The values' bytes, as Parquet counts them for the offset index and size statistics.
    value_bytes: i64,
    /// Definition levels, once the page has a null (before it, every row had a value).
    levels: Vec<u32>,
    /// Dictionary keys, while the dictionary is in use.
    keys: Vec<u32>,

    /// PLAIN values (once the dictionary is given up, or with none), after [`StringChunk::reserve`] bytes kept
    /// for the page's definition levels, so that the page need not be copied to put them first.
    plain: Vec<u8>,
    plain_min_max: Option<MinMax>,
}

/// The least and greatest PLAIN value of a page, each with its first 16 bytes as a big-endian number: when two
/// values' numbers differ, they order the values (a value shorter than 16 bytes is padded with zeros, and is then a
/// prefix of any longer value with the same number, so the lesser), and only equal numbers need the bytes compared.
struct MinMax {
    min_key: u128,
    min: Vec<u8>,
    max_key: u128,
    max: Vec<u8>,
}

/// The first 16 bytes of `data[start..end]`, padded with zeros, as a big-endian number.
#[inline]
fn prefix_key(data: &[u8], start: usize, end: usize) -> u128 {
    load16(data, start, (end - start).min(16)).swap_bytes()
}

impl Filling {
    /// Row `row` of the page is null: its level is 0, and the rows before it, if this is the first null, had values.
    #[inline]
    fn null(&mut self, row: usize) {
        self.levels.resize(row, 1);
        self.levels.push(0);
        self.nulls += 1;
    }
}

/// A finished data page, written out (header and bytes), and what the indexes and statistics need of it.
struct Finished {
    written: Bytes,
    encoding: Encoding,
    spec: PageWriteSpec,
    rows: usize,
    nulls: usize,
    value_bytes: i64,
    min_max: Option<(Vec<u8>, Vec<u8>)>,
}

pub(super) struct StringChunk {
    descr: ColumnDescPtr,
    optional: bool,
    limits: Limits,
    /// The column's dictionary is on: its chunk starts with a dictionary page.
    has_dictionary: bool,
    dictionary: Dictionary,
    /// The dictionary passed its page limit, or is off: the rest of the chunk is PLAIN.
    fallback: bool,
    /// Every row of the column holds one value, or every row is null ([`Self::constant`]).
    constant: bool,
    /// The dictionary page, once written (when the dictionary passed its limit).
    dictionary_page: Option<(Bytes, PageWriteSpec)>,
    filling: Filling,
    /// The bytes kept before a PLAIN page's values for its definition levels: as many as the most rows a page
    /// can hold could take.
    reserve: usize,
    pages: Vec<Finished>,
    /// The compressed bytes of the finished pages.
    pages_bytes: usize,
    /// The codec's compressor, made for the first page that needs it.
    compressor: Option<Compressor>,
}

std::thread_local! {
    /// The codec's output, kept from page to page by each encoding thread (a new one would be zeroed for every
    /// page).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl StringChunk {
    /// Whether this writer makes the chunk of a column of Arrow strings (`utf8`) described by `descr`.
    pub(super) fn eligible(descr: &ColumnDescPtr, props: &WriterProperties, utf8: bool) -> bool {
        let path = descr.path();
        utf8 && descr.physical_type() == Type::BYTE_ARRAY
            && matches!(descr.logical_type_ref(), Some(LogicalType::String))
            && descr.max_rep_level() == 0
            && descr.max_def_level() <= 1
            && props.writer_version() == WriterVersion::PARQUET_1_0
            && matches!(props.encoding(path), None | Some(Encoding::PLAIN))
            && !props.write_page_header_statistics(path)
            && !props.write_row_group_number_distinct_values()
            && Codec::of(props.compression(path)).is_some()
            && props.bloom_filter_properties(path).is_none()
            && props.content_defined_chunking().is_none()
    }

    pub(super) fn new(descr: ColumnDescPtr, props: &WriterProperties) -> Self {
        let path = descr.path();
        let limits = Limits {
            page_rows: props.column_data_page_row_count_limit(path).max(1),
            page_bytes: props.column_data_page_size_limit(path),
            dictionary_bytes: props.column_dictionary_page_size_limit(path),
            batch: props.write_batch_size().max(1),
            statistics: props.statistics_enabled(path),
            statistics_truncate: props.statistics_truncate_length(),
            index_truncate: props.column_index_truncate_length(),
            offset_index: !props.offset_index_disabled(),
            // Eligible columns have a codec of this crate's.
            codec: Codec::of(props.compression(path)).unwrap_or(Codec::Uncompressed),
        };
        let has_dictionary = props.dictionary_enabled(path);
        // Room for the levels of a page of up to a batch less than twice its row limit, bit-packed: a bit a row
        // and a header byte for every 504 rows (mixed runs can take more; then the page is copied once), at most
        // 64 KiB.
        let rows = limits
            .page_rows
            .saturating_add(limits.batch.max(limits.page_rows));
        let reserve = (4 + rows.div_ceil(8) + rows / 504 + 16).min(MAX_RESERVE);
        Self {
            optional: descr.max_def_level() == 1,
            descr,
            limits,
            has_dictionary,
            dictionary: Dictionary::new(has_dictionary),
            fallback: !has_dictionary,
            constant: false,
            dictionary_page: None,
            filling: Filling::default(),
            reserve,
            pages: Vec::new(),
            pages_bytes: 0,
            compressor: None,
        }
    }

    /// Marks the column as one whose rows all hold one value, or are all null (a lineage column): its rows are then
    /// written in bulk, the value looked up once per part (the same chunk, byte for byte). Row by row, the object
    /// key's column and the correlation id's took 8 % of the instructions on narrow rows.
    pub(super) fn constant(mut self) -> Self {
        self.constant = true;
        self
    }

    /// Writes `array`'s values (text, as binary: [`super::typed_schema`]), checking the page and dictionary limits
    /// every `write_batch_size` rows.
    pub(super) fn write(&mut self, array: &BinaryArray) -> Result<()> {
        if !self.optional && array.null_count() > 0 {
            return Err(ParquetError::General(format!(
                "column {} is required but has nulls",
                self.descr.path()
            )));
        }
        // As Parquet's writer checks: every `write_batch_size` rows, but every page's worth of rows when the
        // definition levels are all one value (no nulls, or only nulls).
        let uniform =
            self.optional && (array.null_count() == 0 || array.null_count() == array.len());
        let batch = match uniform {
            true => self.limits.page_rows,
            false => self.limits.batch,
        };
        let mut row = 0;
        while row < array.len() {
            row = match self.fallback {
                false if self.constant => {
                    self.encode_constant(array, row, (row + batch).min(array.len()))
                }
                false => self.encode(array, row, (row + batch).min(array.len())),
                // PLAIN values can be long: the page is also cut as soon as it holds its limit's bytes (as
                // Parquet's writer cuts a batch of long values by their bytes).
                true => self.encode_plain(array, row, (row + batch).min(array.len())),
            };
            self.check()?;
        }
        Ok(())
    }

    /// Writes rows `from..to` to the dictionary, or up to the row that fills the dictionary page (as Parquet's
    /// writer bounds a batch by the dictionary's room); returns the row after the last written.
    ///
    /// Its row bookkeeping (count, null, level) is the same as [`Self::encode_plain`]'s; folded into one method
    /// the two loops took 8 % more instructions on narrow rows (1,420 → 1,534 M), so they keep it each.
    fn encode(&mut self, array: &BinaryArray, from: usize, to: usize) -> usize {
        let (offsets, data, nulls) = (array.value_offsets(), array.value_data(), array.nulls());
        let page = &mut self.filling;
        for r in from..to {
            page.rows += 1;
            if nulls.is_some_and(|n| n.is_null(r)) {
                page.null(page.rows - 1);
                continue;
            }
            if page.nulls > 0 {
                page.levels.push(1);
            }
            let (start, end) = (offsets[r] as usize, offsets[r + 1] as usize);
            page.keys.push(self.dictionary.intern_at(data, start, end));
            page.value_bytes += (end - start) as i64;
            if self.dictionary.page_size() >= self.limits.dictionary_bytes {
                return r + 1;
            }
        }
        to
    }

    /// Writes rows `from..to` of a column of one value ([`Self::constant`]) as [`Self::encode`] does, but the rows
    /// after the first in bulk: the same keys, levels and counts, with the value looked up once.
    fn encode_constant(&mut self, array: &BinaryArray, from: usize, to: usize) -> usize {
        debug_assert!(
            (from..to)
                .all(|r| array.is_null(r) == array.is_null(from)
                    && array.value(r) == array.value(from)),
            "a constant column holds more than one value"
        );
        let first = self.encode(array, from, (from + 1).min(to));
        if first == to || self.dictionary.page_size() >= self.limits.dictionary_bytes {
            return first;
        }
        let n = to - first;
        let page = &mut self.filling;
        if array.is_null(from) {
            // As `Filling::null` for each: the first row's null started the levels.
            page.levels.resize(page.rows + n, 0);
            page.nulls += n;
        } else {
            let Some(&key) = page.keys.last() else {
                return self.encode(array, first, to);
            };
            if page.nulls > 0 {
                page.levels.resize(page.levels.len() + n, 1);
            }
            page.keys.resize(page.keys.len() + n, key);
            page.value_bytes += (n * array.value_length(from) as usize) as i64;
        }
        page.rows += n;
        to
    }

    /// Writes rows `from..to` PLAIN, or up to the row that fills the page; returns the row after the last written.
    fn encode_plain(&mut self, array: &BinaryArray, from: usize, to: usize) -> usize {
        let (offsets, data, nulls) = (array.value_offsets(), array.value_data(), array.nulls());
        let (reserve, limit) = (self.reserve, self.limits.page_bytes);
        let page = &mut self.filling;
        if page.plain.is_empty() {
            page.plain
                .reserve(reserve + limit.min(MAX_PLAIN_START) + 64);
            page.plain.resize(reserve, 0);
        }
        for r in from..to {
            page.rows += 1;
            if nulls.is_some_and(|n| n.is_null(r)) {
                page.null(page.rows - 1);
                continue;
            }
            if page.nulls > 0 {
                page.levels.push(1);
            }
            let (start, end) = (offsets[r] as usize, offsets[r + 1] as usize);
            let v = &data[start..end];
            page.plain
                .extend_from_slice(&(v.len() as u32).to_le_bytes());
            crate::block::extend_from::<16>(&mut page.plain, data, start..end);
            page.value_bytes += v.len() as i64;
            let key = prefix_key(data, start, end);
            match &mut page.plain_min_max {
                None => {
                    page.plain_min_max = Some(MinMax {
                        min_key: key,
                        min: v.to_vec(),
                        max_key: key,
                        max: v.to_vec(),
                    });
                }
                Some(m) => {
                    if key < m.min_key || (key == m.min_key && v < m.min.as_slice()) {
                        m.min_key = key;
                        m.min.clear();
                        m.min.extend_from_slice(v);
                    }
                    if key > m.max_key || (key == m.max_key && v > m.max.as_slice()) {
                        m.max_key = key;
                        m.max.clear();
                        m.max.extend_from_slice(v);
                    }
                }
            }
            if page.plain.len() - reserve >= limit {
                return r + 1;
            }
        }
        to
    }

    /// The page's values' encoded size, as Parquet estimates it.
    fn page_estimate(&self) -> usize {
        match self.fallback {
            false => {
                let width = rle::bit_width(self.dictionary.len().saturating_sub(1) as u64);
                1 + (self.filling.keys.len() * usize::from(width)).div_ceil(8)
            }
            true => self.filling.plain.len().saturating_sub(self.reserve),
        }
    }

    /// Cuts the page at its limits; gives the dictionary up at its own.
    fn check(&mut self) -> Result<()> {
        if self.filling.rows >= self.limits.page_rows
            || self.page_estimate() >= self.limits.page_bytes
        {
            self.finish_page()?;
        }
        if !self.fallback && self.dictionary.page_size() >= self.limits.dictionary_bytes {
            if self.filling.rows > 0 {
                self.finish_page()?;
            }
            // The dictionary is final: its page is written now, and its values, table and cache let go.
            self.dictionary_page = Some(self.write_dictionary_page()?);
            self.dictionary = Dictionary::new(false);
            self.fallback = true;
        }
        Ok(())
    }

    /// The dictionary page, written out.
    fn write_dictionary_page(&mut self) -> Result<(Bytes, PageWriteSpec)> {
        let mut dictionary = Vec::with_capacity(self.dictionary.page_size());
        let (bytes, mut start) = (&self.dictionary.bytes, 0);
        for &end in &self.dictionary.ends {
            dictionary.extend_from_slice(&((end - start) as u32).to_le_bytes());
            crate::block::extend_from::<16>(&mut dictionary, bytes, start..end);
            start = end;
        }
        let (buf, uncompressed) = self.compress(&dictionary)?;
        let page = Page::DictionaryPage {
            buf,
            num_values: self.dictionary.len() as u32,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        write_page(CompressedPage::new(page, uncompressed))
    }

    fn finish_page(&mut self) -> Result<()> {
        let mut page = std::mem::take(&mut self.filling);
        let mut levels = Vec::new();
        if self.optional {
            levels.extend_from_slice(&[0; 4]);
            match page.nulls {
                0 => rle::encode_run(1, page.rows, 1, &mut levels),
                _ => rle::encode(&page.levels, 1, &mut levels),
            }
            let len = (levels.len() - 4) as u32;
            levels[..4].copy_from_slice(&len.to_le_bytes());
        }
        let (encoding, min_max, (buf, uncompressed)) = match self.fallback {
            false => {
                let width = rle::bit_width(self.dictionary.len().saturating_sub(1) as u64);
                levels.push(width);
                rle::encode(&page.keys, width, &mut levels);
                let min_max = self.used_min_max(&page.keys);
                (Encoding::RLE_DICTIONARY, min_max, self.compress(&levels)?)
            }
            true => {
                let min_max = page.plain_min_max.take().map(|m| (m.min, m.max));
                if page.plain.is_empty() {
                    page.plain.resize(self.reserve, 0);
                }
                // The levels go into the bytes kept for them, just before the values.
                let from = match self.reserve.checked_sub(levels.len()) {
                    Some(from) => {
                        page.plain[from..self.reserve].copy_from_slice(&levels);
                        from
                    }
                    None => {
                        let values = page.plain.split_off(self.reserve);
                        page.plain = levels;
                        page.plain.extend_from_slice(&values);
                        0
                    }
                };
                (
                    Encoding::PLAIN,
                    min_max,
                    self.compress(&page.plain[from..])?,
                )
            }
        };
        let data_page = Page::DataPage {
            buf,
            num_values: page.rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        // Written out now, so that the chunk is held once (as its pages' bytes) until the row group closes.
        let (written, spec) = write_page(CompressedPage::new(data_page, uncompressed))?;
        self.pages_bytes += written.len();
        self.pages.push(Finished {
            written,
            encoding,
            spec,
            rows: page.rows,
            nulls: page.nulls,
            value_bytes: page.value_bytes,
            min_max,
        });
        // The next page starts with the buffers of this one, emptied (the PLAIN values' with its bytes kept).
        self.filling.levels = reuse(page.levels);
        self.filling.keys = reuse(page.keys);
        page.plain.truncate(self.reserve);
        let room = self.reserve + self.limits.page_bytes.min(MAX_PLAIN_START) + 64;
        if page.plain.capacity() > 2 * room {
            page.plain.shrink_to(room);
        }
        self.filling.plain = page.plain;
        Ok(())
    }

    /// The least and greatest of the dictionary values among `keys`: each distinct key compared once.
    fn used_min_max(&self, keys: &[u32]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut used = vec![0_u64; self.dictionary.len().div_ceil(64)];
        for &key in keys {
            if let Some(word) = used.get_mut(key as usize / 64) {
                *word |= 1 << (key % 64);
            }
        }
        let mut ids = used.iter().enumerate().flat_map(|(w, &bits)| {
            let mut rest = bits;
            std::iter::from_fn(move || {
                let b = rest.trailing_zeros();
                (b < 64).then(|| {
                    rest &= rest - 1;
                    (w * 64) as u32 + b
                })
            })
        });
        // Compared as prefix keys (their first 16 bytes as a number), by their bytes only when those tie. A key is
        // loaded from the dictionary's bytes, which mostly hold 16 bytes from a value's start.
        let (bytes, ends) = (&self.dictionary.bytes, &self.dictionary.ends);
        let keyed = |id: u32| {
            let end = ends[id as usize];
            let start = if id == 0 { 0 } else { ends[id as usize - 1] };
            (prefix_key(bytes, start, end), &bytes[start..end])
        };
        let first = keyed(ids.next()?);
        let (mut min, mut max) = (first, first);
        for id in ids {
            let v = keyed(id);
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let (min, max) = (min.1, max.1);
        Some((min.to_vec(), max.to_vec()))
    }

    /// The page's bytes as written (compressed or not), and their size uncompressed.
    fn compress(&mut self, page: &[u8]) -> Result<(Bytes, usize)> {
        let compressor = match &mut self.compressor {
            Some(compressor) => compressor,
            None => self.compressor.insert(
                Compressor::new(self.limits.codec)
                    .map_err(|e| ParquetError::External(Box::new(e)))?,
            ),
        };
        SCRATCH.with_borrow_mut(|scratch| {
            let compressed = compressor
                .compress(page, scratch)
                .map_err(|e| ParquetError::External(Box::new(e)))?;
            let bytes = Bytes::copy_from_slice(compressed.unwrap_or(page));
            Ok((bytes, page.len()))
        })
    }

    /// The estimated bytes of the chunk so far, for where the row group is cut.
    pub(super) fn estimated_total_bytes(&self) -> usize {
        let dictionary = match (&self.dictionary_page, self.has_dictionary) {
            (Some((written, _)), _) => written.len(),
            (None, true) => self.dictionary.page_size(),
            (None, false) => 0,
        };
        self.pages_bytes + self.page_estimate() + dictionary
    }

    /// Writes the chunk: the dictionary page, then the data pages; returns its bytes and what the file's footer
    /// needs of it.
    pub(super) fn close(mut self) -> Result<(Parts, ColumnCloseResult)> {
        if self.filling.rows > 0 {
            self.finish_page()?;
        }
        let dictionary_page = match (self.dictionary_page.take(), self.has_dictionary) {
            (Some(written), _) => Some(written),
            (None, true) => Some(self.write_dictionary_page()?),
            (None, false) => None,
        };

        let mut parts = Vec::with_capacity(self.pages.len() + 1);
        let mut totals = Totals::default();
        let mut encoding_stats = Vec::new();
        let mut dictionary_page_offset = None;
        if let Some((written, spec)) = dictionary_page {
            totals.add(&spec);
            parts.push(written);
            dictionary_page_offset = Some(0);
            encoding_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        // The levels' encoding, and the dictionary page's or the PLAIN data pages'.
        let mut encodings = vec![Encoding::RLE, Encoding::PLAIN];

        let page_index = self.limits.statistics == EnabledStatistics::Page;
        let mut column_index = ColumnIndexBuilder::new(Type::BYTE_ARRAY);
        let mut offset_index = OffsetIndexBuilder::new();
        let (mut ascending, mut descending) = (true, true);
        let mut last: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut chunk_min_max: Option<(Vec<u8>, Vec<u8>)> = None;
        let (mut rows, mut nulls, mut value_bytes) = (0_u64, 0_u64, 0_i64);
        let mut data_page_offset = None;
        for page in std::mem::take(&mut self.pages) {
            let encoding = page.encoding;
            if !encodings.contains(&encoding) {
                encodings.push(encoding);
            }
            match encoding_stats.last_mut() {
                Some(stats)
                    if stats.page_type == PageType::DATA_PAGE && stats.encoding == encoding =>
                {
                    stats.count += 1;
                }
                _ => encoding_stats.push(PageEncodingStats {
                    page_type: PageType::DATA_PAGE,
                    encoding,
                    count: 1,
                }),
            }
            let offset = totals.written;
            totals.add(&page.spec);
            parts.push(page.written);
            data_page_offset.get_or_insert(offset);
            offset_index.append_offset_and_size(offset as i64, page.spec.compressed_size as i32);
            offset_index.append_row_count(page.rows as i64);
            offset_index.append_unencoded_byte_array_data_bytes(Some(page.value_bytes));
            rows += page.rows as u64;
            nulls += page.nulls as u64;
            value_bytes += page.value_bytes;

            if page.rows == page.nulls {
                column_index.append(true, Vec::new(), Vec::new(), page.nulls as i64, None);
            } else if let Some((min, max)) = &page.min_max {
                if let Some((last_min, last_max)) = &last {
                    ascending &= !(last_min > min || last_max > max);
                    descending &= !(min > last_min || max > last_max);
                }
                column_index.append(
                    false,
                    truncate_min(self.limits.index_truncate, min).0,
                    truncate_max(self.limits.index_truncate, max).0,
                    page.nulls as i64,
                    None,
                );
                last = Some((min.clone(), max.clone()));
            }
            if let Some(histogram) = self.histogram(page.nulls, page.rows) {
                column_index.append_histograms(&None, &Some(histogram));
            }
            if let Some((min, max)) = page.min_max {
                chunk_min_max = Some(match chunk_min_max {
                    None => (min, max),
                    Some((a, b)) => (a.min(min), b.max(max)),
                });
            }
        }

        let mut builder = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.limits.codec.parquet())
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(encoding_stats)
            .set_total_compressed_size(totals.compressed as i64)
            .set_total_uncompressed_size(totals.uncompressed as i64)
            .set_num_values(totals.values as i64)
            .set_data_page_offset(data_page_offset.unwrap_or(0) as i64)
            .set_dictionary_page_offset(dictionary_page_offset);
        if self.limits.statistics != EnabledStatistics::None {
            let statistics = match chunk_min_max {
                None => ValueStatistics::<ByteArray>::new(None, None, None, Some(nulls), false),
                Some((min, max)) => {
                    let (min, min_cut) = truncate_min(self.limits.statistics_truncate, &min);
                    let (max, max_cut) = truncate_max(self.limits.statistics_truncate, &max);
                    ValueStatistics::new(
                        Some(ByteArray::from(min)),
                        Some(ByteArray::from(max)),
                        None,
                        Some(nulls),
                        false,
                    )
                    .with_min_is_exact(!min_cut)
                    .with_max_is_exact(!max_cut)
                }
            };
            builder = builder
                .set_statistics(Statistics::ByteArray(statistics))
                .set_unencoded_byte_array_data_bytes(Some(value_bytes))
                .set_definition_level_histogram(self.histogram(nulls as usize, rows as usize));
        }
        let metadata = builder.build()?;
        column_index.set_boundary_order(match (ascending, descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        let close = ColumnCloseResult {
            bytes_written: totals.written,
            rows_written: rows,
            bloom_filter: None,
            metadata,
            column_index: match page_index && column_index.valid() {
                true => Some(column_index.build()?),
                false => None,
            },
            offset_index: self.limits.offset_index.then(|| offset_index.build()),
        };
        Ok((Parts(parts), close))
    }

    /// The definition levels' histogram (nulls, values), kept with statistics on an optional column.
    fn histogram(&self, nulls: usize, rows: usize) -> Option<LevelHistogram> {
        (self.optional && self.limits.statistics != EnabledStatistics::None)
            .then(|| LevelHistogram::from(vec![nulls as i64, (rows - nulls) as i64]))
    }
}

/// A page's header and bytes, as a column chunk holds them; its metrics, at offset 0.
fn write_page(page: CompressedPage) -> Result<(Bytes, PageWriteSpec)> {
    let mut sink = TrackedWrite::new(Vec::with_capacity(page.compressed_size() + 64));
    let spec = SerializedPageWriter::new(&mut sink).write_page(page)?;
    Ok((sink.into_inner()?.into(), spec))
}

/// A closed chunk's pages, one after another: what a row group copies the chunk from.
pub(super) struct Parts(Vec<Bytes>);

impl Length for Parts {
    fn len(&self) -> u64 {
        self.0.iter().map(|p| p.len() as u64).sum()
    }
}

impl ChunkReader for Parts {
    type T = PartsRead;

    fn get_read(&self, start: u64) -> Result<PartsRead> {
        let mut read = PartsRead(self.0.iter().cloned().collect());
        let mut skip = start as usize;
        while let Some(part) = read.0.front_mut() {
            if skip < part.len() {
                part.advance(skip);
                break;
            }
            skip -= part.len();
            read.0.pop_front();
        }
        Ok(read)
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let mut out = Vec::with_capacity(length);
        self.get_read(start)?
            .take(length as u64)
            .read_to_end(&mut out)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(out.into())
    }
}

pub(super) struct PartsRead(VecDeque<Bytes>);

impl Read for PartsRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(part) = self.0.front_mut() {
            if part.is_empty() {
                self.0.pop_front();
                continue;
            }
            let n = part.len().min(buf.len());
            buf[..n].copy_from_slice(&part[..n]);
            part.advance(n);
            return Ok(n);
        }
        Ok(0)
    }
}

fn reuse<T>(mut v: Vec<T>) -> Vec<T> {
    v.clear();
    v
}

#[derive(Default)]
struct Totals {
    compressed: u64,
    uncompressed: u64,
    written: u64,
    values: u64,
}

impl Totals {
    fn add(&mut self, spec: &parquet::column::page::PageWriteSpec) {
        self.compressed += spec.compressed_size as u64;
        self.uncompressed += spec.uncompressed_size as u64;
        self.written += spec.bytes_written;
        if spec.page_type == PageType::DATA_PAGE {
            self.values += u64::from(spec.num_values);
        }
    }
}

/// A minimum cut to at most `length` bytes, at a character boundary (as Parquet's writer cuts a UTF-8 one);
/// whether it was cut.
fn truncate_min(length: Option<usize>, data: &[u8]) -> (Vec<u8>, bool) {
    length
        .filter(|&l| data.len() > l)
        .and_then(|l| match std::str::from_utf8(data) {
            Ok(text) => (1..=l)
                .rfind(|&x| text.is_char_boundary(x))
                .map(|cut| data[..cut].to_vec()),
            Err(_) => Some(data[..l].to_vec()),
        })
        .map_or_else(|| (data.to_vec(), false), |cut| (cut, true))
}

/// A maximum cut to at most `length` bytes and its last character raised, so that it stays an upper bound (as
/// Parquet's writer does); whether it was cut.
fn truncate_max(length: Option<usize>, data: &[u8]) -> (Vec<u8>, bool) {
    length
        .filter(|&l| data.len() > l)
        .and_then(|l| match std::str::from_utf8(data) {
            Ok(text) => {
                let cut = (l.saturating_sub(3)..=l).rfind(|&x| text.is_char_boundary(x))?;
                increment_utf8(text.get(..cut)?)
            }
            Err(_) => increment(data[..l].to_vec()),
        })
        .map_or_else(|| (data.to_vec(), false), |cut| (cut, true))
}

/// The text with its last character that can be raised without growing in bytes raised, and the rest dropped.
fn increment_utf8(text: &str) -> Option<Vec<u8>> {
    text.char_indices().rev().find_map(|(i, c)| {
        let next = char::from_u32(c as u32 + 1).filter(|n| n.len_utf8() == c.len_utf8())?;
        let mut out = text.as_bytes()[..i + c.len_utf8()].to_vec();
        next.encode_utf8(&mut out[i..]);
        Some(out)
    })
}

fn increment(mut data: Vec<u8>) -> Option<Vec<u8>> {
    for byte in data.iter_mut().rev() {
        let (raised, overflow) = byte.overflowing_add(1);
        *byte = raised;
        if !overflow {
            return Some(data);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
    use std::sync::Arc;

    /// A file of one column written by this writer, and the same by Parquet's; each with its batches read back.
    fn both(
        batches: &[Vec<Option<String>>],
        nullable: bool,
        props: WriterProperties,
    ) -> [(ParquetMetaData, Vec<ArrayRef>); 2] {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, nullable)]));
        let arrays: Vec<StringArray> = batches
            .iter()
            .map(|b| StringArray::from_iter(b.iter().cloned()))
            .collect();
        let own = own_file(&arrays, nullable, &props, false);

        let mut theirs = Vec::new();
        let mut writer =
            ArrowWriter::try_new(&mut theirs, Arc::clone(&schema), Some(props)).expect("writer");
        for array in &arrays {
            let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(array.clone())])
                .expect("batch");
            writer.write(&batch).expect("write");
        }
        writer.close().expect("close");

        [own, theirs].map(|file| {
            let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(
                Bytes::from(file),
                ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional),
            )
            .expect("reader");
            let metadata = reader.metadata().as_ref().clone();
            let columns = reader
                .build()
                .expect("build")
                .map(|b| Arc::clone(b.expect("batch").column(0)))
                .collect();
            (metadata, columns)
        })
    }

    /// A file of one column written by this writer (marked [`StringChunk::constant`] or not).
    fn own_file(
        arrays: &[StringArray],
        nullable: bool,
        props: &WriterProperties,
        constant: bool,
    ) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, nullable)]));
        let mut own = Vec::new();
        let (mut file, _) =
            ArrowWriter::try_new(&mut own, Arc::clone(&schema), Some(props.clone()))
                .expect("writer")
                .into_serialized_writer()
                .expect("serialized");
        let descr = file.schema_descr().column(0);
        assert!(StringChunk::eligible(&descr, props, true));
        let mut writer = StringChunk::new(descr, props);
        if constant {
            writer = writer.constant();
        }
        for array in arrays {
            writer
                .write(&BinaryArray::from(array.clone()))
                .expect("write");
        }
        let (bytes, close) = writer.close().expect("close");
        let mut row_group = file.next_row_group().expect("row group");
        row_group.append_column(&bytes, close).expect("append");
        row_group.close().expect("row group close");
        file.close().expect("file close");
        own
    }

    #[test]
    fn a_constant_column_in_bulk_is_the_same_file_as_row_by_row() {
        // Short and long values (the cache and the comparison with the last value), nulls; parts of unequal sizes
        // that cross pages (20,000 rows by default; 1,000 and 7 below) and a part of one row; a value larger than
        // the dictionary's page limit (then PLAIN).
        let long = "s3://bucket/incoming/2026/12/01/orders-0001.csv".to_owned();
        let huge = "x".repeat(2000);
        let values = [Some("CZ".to_owned()), Some(long), None, Some(huge)];
        let sizes = [8192, 30_000, 1, 5, 20_000, 333];
        for value in &values {
            let arrays: Vec<StringArray> = sizes
                .iter()
                .map(|&n| StringArray::from_iter(std::iter::repeat_n(value.clone(), n)))
                .collect();
            let settings = [
                props().build(),
                props().set_data_page_row_count_limit(1000).build(),
                props()
                    .set_data_page_row_count_limit(7)
                    .set_write_batch_size(3)
                    .build(),
                props().set_dictionary_page_size_limit(1024).build(),
                props().set_dictionary_enabled(false).build(),
            ];
            for (k, settings) in settings.iter().enumerate() {
                for nullable in [true, false] {
                    if value.is_none() && !nullable {
                        continue;
                    }
                    let bulk = own_file(&arrays, nullable, settings, true);
                    let rows = own_file(&arrays, nullable, settings, false);
                    assert!(bulk == rows, "{value:?}, settings {k}, nullable {nullable}");
                }
            }
        }
    }

    fn values(columns: &[ArrayRef]) -> Vec<Option<String>> {
        columns
            .iter()
            .flat_map(|c| {
                c.as_any()
                    .downcast_ref::<StringArray>()
                    .expect("strings")
                    .iter()
                    .map(|v| v.map(str::to_owned))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Checks this writer's file against Parquet's: the same values, statistics, size statistics, encodings and,
    /// when the pages fall alike (`same_pages`), the same column and offset indexes.
    fn check(
        batches: &[Vec<Option<String>>],
        nullable: bool,
        props: WriterProperties,
        same_pages: bool,
    ) {
        let [(own, own_values), (theirs, their_values)] = both(batches, nullable, props);
        let expected: Vec<Option<String>> = batches.concat();
        assert_eq!(values(&own_values), expected);
        assert_eq!(values(&their_values), expected);
        let (a, b) = (own.row_group(0).column(0), theirs.row_group(0).column(0));
        assert_eq!(a.statistics(), b.statistics(), "statistics");
        assert_eq!(a.num_values(), b.num_values());
        assert_eq!(
            a.unencoded_byte_array_data_bytes(),
            b.unencoded_byte_array_data_bytes()
        );
        assert_eq!(
            a.definition_level_histogram(),
            b.definition_level_histogram()
        );
        assert_eq!(
            a.repetition_level_histogram(),
            b.repetition_level_histogram()
        );
        assert_eq!(a.encodings_mask(), b.encodings_mask(), "encodings");
        assert_eq!(a.compression(), b.compression());
        assert_eq!(
            a.dictionary_page_offset().is_some(),
            b.dictionary_page_offset().is_some(),
            "dictionary page"
        );
        assert_eq!(
            a.page_encoding_stats_mask(),
            b.page_encoding_stats_mask(),
            "data page encodings"
        );
        if same_pages {
            // The same distinct values in the same order: a value given two ids would make the page larger. (A
            // dictionary that overflows mid-batch may stop at another value.)
            let dictionary_bytes = |c: &ColumnChunkMetaData| {
                c.dictionary_page_offset().map(|d| c.data_page_offset() - d)
            };
            assert_eq!(
                dictionary_bytes(a),
                dictionary_bytes(b),
                "dictionary page size"
            );
            let index =
                |m: &ParquetMetaData| m.page_index_for_row_group(0).column_index(0).cloned();
            assert_eq!(index(&own), index(&theirs), "column index");
            let locations = |m: &ParquetMetaData| {
                let index = m
                    .page_index_for_row_group(0)
                    .offset_index(0)
                    .cloned()
                    .expect("offset index");
                let rows: Vec<_> = index
                    .page_locations()
                    .iter()
                    .map(|l| l.first_row_index)
                    .collect();
                (rows, index.unencoded_byte_array_data_bytes().cloned())
            };
            assert_eq!(locations(&own), locations(&theirs), "offset index");
        }
    }

    fn props() -> parquet::file::properties::WriterPropertiesBuilder {
        WriterProperties::builder().set_compression(Compression::SNAPPY)
    }

    /// A small deterministic generator.
    struct Seq(u64);
    impl Seq {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn column(
        seq: &mut Seq,
        rows: usize,
        distinct: u64,
        null_in: u64,
        make: impl Fn(u64) -> String,
    ) -> Vec<Option<String>> {
        (0..rows)
            .map(|_| match null_in > 0 && seq.next(null_in) == 0 {
                true => None,
                false => Some(make(seq.next(distinct))),
            })
            .collect()
    }

    #[test]
    fn repeating_strings_match_parquets_writer() {
        let mut seq = Seq(1);
        let countries = |k: u64| ["CZ", "IN", "AU", "PT", "DE", "US", "BR"][k as usize].to_owned();
        // Several pages (20,000 rows a page), batches of unequal size, no nulls; then nulls.
        let batches = vec![
            column(&mut seq, 8192, 7, 0, countries),
            column(&mut seq, 30_000, 7, 0, countries),
            column(&mut seq, 5, 7, 0, countries),
        ];
        check(&batches, true, props().build(), true);
        check(&batches, false, props().build(), true);
        // Far more distinct values than the cache holds: short ones found by their key, longer ones by their
        // bytes; and values that tie on their first 16 bytes padded with zeros (trailing NULs), for the pages'
        // minimum and maximum.
        let many = |k: u64| match k % 3 {
            0 => format!("c{k}"),
            1 => format!("a-longer-value-{k:06}"),
            _ => format!("c{}{}", k / 3 % 7, "\0".repeat((k / 21 % 4) as usize)),
        };
        check(
            &[column(&mut seq, 45_000, 30_000, 0, many)],
            true,
            props().build(),
            true,
        );
        let batches = vec![
            column(&mut seq, 25_000, 300, 9, |k| format!("code-{k}")),
            vec![None; 3000],
            column(&mut seq, 100, 3, 2, countries),
        ];
        check(&batches, true, props().build(), true);
        check(
            &batches,
            true,
            props().set_compression(Compression::UNCOMPRESSED).build(),
            true,
        );
        // Statistics on the chunk only: no column index.
        check(
            &batches,
            true,
            props()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .build(),
            true,
        );
        check(
            &batches,
            true,
            props()
                .set_statistics_enabled(EnabledStatistics::None)
                .build(),
            true,
        );
    }

    #[test]
    fn one_value_all_nulls_and_sorted_pages() {
        let mut seq = Seq(2);
        check(
            &[vec![Some("only".to_owned()); 50_000]],
            true,
            props().build(),
            true,
        );
        check(&[vec![None; 45_000]], true, props().build(), true);
        // Ascending pages: the column index says so.
        let sorted: Vec<Option<String>> = (0..60_000)
            .map(|i| Some(format!("{:03}", i / 1000)))
            .collect();
        check(std::slice::from_ref(&sorted), true, props().build(), true);
        let descending: Vec<Option<String>> = sorted.into_iter().rev().collect();
        check(
            &[descending, column(&mut seq, 10, 5, 0, |k| k.to_string())],
            true,
            props().build(),
            true,
        );
    }

    #[test]
    fn long_values_are_truncated_in_statistics_alike() {
        let mut seq = Seq(3);
        // Past 64 bytes, with multi-byte characters about the cut, and one whose last character cannot be raised.
        let long = |k: u64| match k {
            0 => "ž".repeat(40),
            1 => format!("{}€€€", "a".repeat(62)),
            2 => format!("{}\u{10FFFF}", "z".repeat(63)),
            k => format!("{}{k}", "m".repeat(70)),
        };
        let batches = vec![column(&mut seq, 30_000, 12, 5, long)];
        check(&batches, true, props().build(), true);
    }

    #[test]
    fn settings_this_writer_does_not_make_leave_the_column_to_parquet() {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let eligible = |props: WriterProperties| {
            let mut out = Vec::new();
            let (file, _) =
                ArrowWriter::try_new(&mut out, Arc::clone(&schema), Some(props.clone()))
                    .expect("writer")
                    .into_serialized_writer()
                    .expect("serialized");
            StringChunk::eligible(&file.schema_descr().column(0), &props, true)
        };
        assert!(eligible(props().build()));
        assert!(eligible(props().set_dictionary_enabled(false).build()));
        assert!(eligible(
            props().set_compression(Compression::UNCOMPRESSED).build()
        ));
        assert!(eligible(
            props()
                .set_compression(Compression::ZSTD(Default::default()))
                .build()
        ));
        assert!(!eligible(
            props().set_compression(Compression::LZ4_RAW).build()
        ));
        assert!(!eligible(
            props()
                .set_writer_version(WriterVersion::PARQUET_2_0)
                .build()
        ));
        assert!(!eligible(
            props()
                .set_encoding(Encoding::DELTA_LENGTH_BYTE_ARRAY)
                .build()
        ));
        assert!(!eligible(props().set_bloom_filter_enabled(true).build()));
        assert!(!eligible(
            props().set_write_page_header_statistics(true).build()
        ));
        assert!(!eligible(
            props()
                .set_write_row_group_number_distinct_values(true)
                .build()
        ));
    }

    #[test]
    fn parts_read_as_one_run_of_bytes_from_any_offset() {
        let parts = Parts(vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(b"defg"),
            Bytes::from_static(b"h"),
        ]);
        assert_eq!(parts.len(), 8);
        for start in 0..=8 {
            let mut read = Vec::new();
            parts
                .get_read(start)
                .expect("read")
                .read_to_end(&mut read)
                .expect("bytes");
            assert_eq!(read, &b"abcdefgh"[start as usize..]);
        }
        assert_eq!(
            parts.get_bytes(2, 4).expect("bytes"),
            Bytes::from_static(b"cdef")
        );
    }

    #[test]
    fn plain_chunks_match_parquets_writer() {
        let mut seq = Seq(5);
        let plain = || props().set_dictionary_enabled(false);
        let codes = |k: u64| format!("{:X}", k * 7919);
        check(
            &[column(&mut seq, 45_000, 1_000_000, 0, codes)],
            true,
            plain().build(),
            true,
        );
        check(
            &[column(&mut seq, 30_000, 1_000_000, 0, codes)],
            false,
            plain().build(),
            true,
        );
        let batches = vec![
            column(&mut seq, 25_000, 1_000_000, 6, codes),
            vec![None; 2000],
            column(&mut seq, 9, 5, 2, codes),
        ];
        check(&batches, true, plain().build(), true);
        check(
            &batches,
            true,
            plain()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .build(),
            true,
        );
        // Values that share their first 16 bytes, or differ only past them, or by trailing zero bytes: the
        // minimum and maximum must still be exact.
        let tricky = |k: u64| match k % 8 {
            0 => "a".to_owned(),
            1 => "a\0".to_owned(),
            2 => "a\0\0b".to_owned(),
            3 => "0123456789abcdefX".to_owned(),
            4 => "0123456789abcdefY".to_owned(),
            5 => "0123456789abcdef".to_owned(),
            6 => "0123456789abcde".to_owned(),
            _ => "\u{10FFFF}zz".to_owned(),
        };
        // PLAIN pages, and dictionary pages (whose minimum and maximum are found among the values they used).
        for (rows, props) in [3, 5, 8, 20_000]
            .into_iter()
            .flat_map(|rows| [(rows, plain()), (rows, props())])
        {
            let mut seq = Seq(rows as u64);
            check(
                &[column(&mut seq, rows, 8, 4, tricky)],
                true,
                props.build(),
                true,
            );
        }
        // Long values: pages cut by their bytes.
        let long = vec![column(&mut seq, 3000, 1_000_000, 9, |k| {
            format!("{k:>300}")
        })];
        check(&long, true, plain().build(), false);
        check(
            &long,
            true,
            plain().set_data_page_size_limit(10_000).build(),
            false,
        );
    }

    #[test]
    fn zstd_chunks_match_parquets_writer() {
        let mut seq = Seq(11);
        let zstd = |level| {
            props().set_compression(Compression::ZSTD(ZstdLevel::try_new(level).expect("level")))
        };
        let countries = |k: u64| ["CZ", "IN", "AU", "PT", "DE", "US", "BR"][k as usize].to_owned();
        let codes = |k: u64| format!("code-{:X}", k * 7919);
        let repeating = vec![
            column(&mut seq, 30_000, 7, 5, countries),
            column(&mut seq, 25_000, 3_000, 9, codes),
        ];
        let distinct = vec![column(&mut seq, 40_000, 1_000_000, 7, codes)];
        for level in [1, 3, 9] {
            for (batches, props) in [
                (&repeating, zstd(level)),
                (&distinct, zstd(level).set_dictionary_enabled(false)),
            ] {
                let props = props.build();
                check(batches, true, props.clone(), true);
                // The pages fall alike and are compressed alike: the chunk takes as many bytes as Parquet's.
                let [(own, _), (theirs, _)] = both(batches, true, props);
                let (a, b) = (own.row_group(0).column(0), theirs.row_group(0).column(0));
                // The footer names the codec, not its level: the sizes show the level was applied alike.
                assert!(matches!(a.compression(), Compression::ZSTD(_)));
                assert_eq!(a.compressed_size(), b.compressed_size(), "level {level}");
                assert_eq!(
                    a.uncompressed_size(),
                    b.uncompressed_size(),
                    "level {level}"
                );
                assert!(a.compressed_size() < a.uncompressed_size(), "level {level}");
            }
        }
        let long = vec![column(&mut seq, 3000, 1_000_000, 9, |k| {
            format!("{k:>300}")
        })];
        check(
            &long,
            true,
            zstd(3).set_dictionary_enabled(false).build(),
            false,
        );
    }

    #[test]
    fn a_dictionary_past_its_limit_falls_back_to_plain_pages() {
        let mut seq = Seq(4);
        let nulls = vec![column(&mut seq, 30_000, 5000, 7, |k| {
            format!("customer {k}")
        })];
        let values = vec![column(&mut seq, 30_000, 5000, 0, |k| {
            format!("customer {k}")
        })];
        for limit in [100, 20_000] {
            check(
                &nulls,
                true,
                props().set_dictionary_page_size_limit(limit).build(),
                false,
            );
            let small_pages = props()
                .set_dictionary_page_size_limit(limit)
                .set_data_page_size_limit(4096);
            check(&values, false, small_pages.build(), false);
        }
        // Long PLAIN values: a page is cut as soon as it holds its limit's bytes, here after 9 values of 504 bytes
        // (4 of length, 500 of text) past 4,096.
        let long = vec![column(&mut seq, 2000, 1_000_000, 0, |k| {
            format!("{k:0>500}")
        })];
        let props = props()
            .set_dictionary_page_size_limit(100)
            .set_data_page_size_limit(4096);
        check(&long, true, props.clone().build(), false);
        let [(own, _), _] = both(&long, true, props.build());
        let pages = own.page_index_for_row_group(0).num_data_pages(0);
        assert_eq!(
            pages,
            Some(1 + 1999_usize.div_ceil(9)),
            "one page before the fallback, then 9 values a page"
        );
    }
}
