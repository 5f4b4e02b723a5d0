//! The plan: which input field feeds which output column, and with which type.

use super::*;
use std::collections::HashSet;

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
            for r in (0..sample.len()).filter(|&r| sample.field_count(r) == header.len()) {
                for (state, field) in inferred.iter_mut().zip(sample.fields(r)) {
                    if let Ok(text) = simdutf8::basic::from_utf8(field) {
                        state.observe(text);
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
    /// Whether each output column is dictionary-encoded: not when most of the sample's values are distinct (ids,
    /// free text, measurements), where a dictionary only costs time and memory until Parquet's writer gives it
    /// up at the dictionary page limit. Columns the file lacks, and a sample too small to tell, keep it.
    pub(super) fn dictionary(&self, sample: &RawBatch, width: usize) -> Vec<bool> {
        let records: Vec<_> = sample
            .records()
            .filter(|(_, _, ends)| ends.len() == width)
            .map(|(_, bytes, ends)| (bytes.start, ends))
            .collect();
        let rows = records.len();
        if rows < DICTIONARY_SAMPLE_MIN {
            return vec![true; self.sources.len()];
        }
        // One column's distinct values at a time (a wide file's sets together would be large); a field is found
        // from its record's field ends directly.
        let mut distinct: HashSet<&[u8], foldhash::fast::RandomState> =
            HashSet::with_capacity_and_hasher(rows, Default::default());
        self.sources
            .iter()
            .map(|source| {
                let Some(i) = *source else { return true };
                distinct.clear();
                for (start, ends) in &records {
                    let from = if i == 0 { *start } else { ends[i - 1] + 1 };
                    distinct.insert(&sample.data[from..ends[i]]);
                }
                distinct.len() * 2 <= rows
            })
            .collect()
    }
}

/// Fewer sampled rows than this cannot tell a repeating column from a distinct one.
const DICTIONARY_SAMPLE_MIN: usize = 100;
