//! A Parquet file's Arrow schema from its footer alone: the object's last bytes, never the whole file. The
//! Redshift path reads it with ranged GETs to know each file's columns before Redshift copies the file.

use arrow_schema::Schema;
use parquet::arrow::parquet_to_arrow_schema;
use parquet::errors::ParquetError;
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};

/// How many of an object's last bytes the first read takes: enough for the footer of any curated file (a few
/// KiB for a hundred columns and a handful of row groups).
pub const FIRST_READ: u64 = 64 * 1024;

/// What an object's last bytes give.
#[derive(Debug, PartialEq)]
pub enum Tail {
    Schema(Schema),
    /// The footer is longer than the bytes read: read again from this offset.
    NeedFrom(u64),
}

/// The schema in `tail`, the last bytes of an object of `size` bytes, or where the footer starts when `tail` does
/// not hold it whole.
pub fn read_tail(tail: &[u8], size: u64) -> Result<Tail, ParquetError> {
    let Some(end) = tail.last_chunk::<8>() else {
        return Err(ParquetError::General(format!(
            "not a Parquet file: {} bytes",
            tail.len()
        )));
    };
    let footer = FooterTail::try_new(end)?;
    let needed = footer.metadata_length() as u64 + 8;
    if needed > size {
        return Err(ParquetError::General(format!(
            "the footer says {needed} bytes, the file has {size}"
        )));
    }
    if needed > tail.len() as u64 {
        return Ok(Tail::NeedFrom(size - needed));
    }
    let start = tail.len() - needed as usize;
    let metadata = ParquetMetaDataReader::decode_metadata(&tail[start..tail.len() - 8])?;
    let file = metadata.file_metadata();
    Ok(Tail::Schema(parquet_to_arrow_schema(
        file.schema_descr(),
        file.key_value_metadata(),
    )?))
}

/// The Arrow schema of the Parquet object `key` (of `size` bytes, at ETag `etag`), from one or two ranged GETs.
#[cfg(feature = "lambda")]
pub async fn read_schema(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    size: u64,
    etag: &str,
) -> Result<Schema, crate::error::Error> {
    use tributary_shared::s3::get_range;
    let unreadable = |source| crate::postgres::LoadError::Parquet {
        url: format!("s3://{bucket}/{key}"),
        source,
    };
    let first = size.saturating_sub(FIRST_READ);
    let tail = get_range(client, bucket, key, first, size - first, etag).await?;
    match read_tail(&tail, size).map_err(unreadable)? {
        Tail::Schema(schema) => Ok(schema),
        Tail::NeedFrom(from) => {
            let tail = get_range(client, bucket, key, from, size - from, etag).await?;
            match read_tail(&tail, size).map_err(unreadable)? {
                Tail::Schema(schema) => Ok(schema),
                Tail::NeedFrom(_) => Err(unreadable(ParquetError::General(
                    "the footer moved between two reads".into(),
                ))
                .into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field};
    use parquet::arrow::ArrowWriter;
    use std::sync::Arc;

    fn file(columns: usize) -> (Vec<u8>, Schema) {
        let fields: Vec<Field> = (0..columns)
            .map(|i| Field::new(format!("column_{i}"), DataType::Int64, i % 2 == 0))
            .chain([Field::new("note", DataType::Utf8, true)])
            .collect();
        let schema = Schema::new(fields);
        let arrays: Vec<ArrayRef> = (0..columns)
            .map(|_| Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)
            .chain([Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef])
            .collect();
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), arrays).expect("batch");
        let mut out = Vec::new();
        let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
        (out, schema)
    }

    #[test]
    fn the_schema_comes_from_the_last_bytes_alone() {
        let (bytes, schema) = file(3);
        let size = bytes.len() as u64;
        let tail = &bytes[bytes.len().saturating_sub(FIRST_READ as usize)..];
        let Tail::Schema(read) = read_tail(tail, size).expect("footer") else {
            panic!("the first read holds a small footer")
        };
        assert_eq!(read.fields(), schema.fields());
    }

    #[test]
    fn a_footer_longer_than_the_first_read_says_where_it_starts() {
        let (bytes, schema) = file(400);
        let size = bytes.len() as u64;
        let Tail::NeedFrom(from) = read_tail(&bytes[bytes.len() - 64..], size).expect("footer")
        else {
            panic!("64 bytes cannot hold the footer")
        };
        assert!(from > 0 && from < size - 64);
        let Tail::Schema(read) = read_tail(&bytes[from as usize..], size).expect("footer") else {
            panic!("read from where the footer starts")
        };
        assert_eq!(read.fields(), schema.fields());
    }

    #[test]
    fn bytes_that_are_not_parquet_are_an_error_not_a_panic() {
        assert!(read_tail(b"abc", 3).is_err());
        assert!(read_tail(b"order_id,qty\nPO-1,3\n", 20).is_err());
        // A footer length larger than the file.
        let mut lying = vec![0u8; 4];
        lying.extend_from_slice(&1_000_000u32.to_le_bytes());
        lying.extend_from_slice(b"PAR1");
        assert!(read_tail(&lying, 12).is_err());
    }
}
