//! The output's compression: snappy (the default), zstd at a level, or none. Parsed from `COMPRESSION` (the
//! function) and `--compression` (the CLI); the converter then leaves uncompressed any numeric column whose
//! sampled values the codec would not shrink (see `Plan::compressed`).

use parquet::basic::{Compression, ZstdLevel};
use std::fmt;
use std::str::FromStr;

/// How every compressed column's pages are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// Snappy: fast, and what every reader expects.
    #[default]
    Snappy,
    /// Zstandard at a level from 1 to 22: smaller files (on 1 GB of long free text, 37 % smaller at level 1) for
    /// more CPU time.
    Zstd(i32),
    /// No compression at all.
    Uncompressed,
}

/// The level `zstd` means without one: zstd's fastest, as Parquet's and Arrow's writers default to. On the four
/// 1 GB bench files level 3 came out 0.5–7 % smaller than level 1 for 4–39 % more CPU time (telemetry's floats
/// the most), and peaked at 128.3 MiB on long free text (each compressed column's writer holds a zstd context
/// sized by its level).
pub const ZSTD_DEFAULT_LEVEL: i32 = 1;

impl Codec {
    /// The codec as Parquet's writer names it.
    pub fn parquet(self) -> Compression {
        match self {
            Self::Snappy => Compression::SNAPPY,
            Self::Zstd(level) => {
                Compression::ZSTD(ZstdLevel::try_new(zstd_level(level)).unwrap_or_default())
            }
            Self::Uncompressed => Compression::UNCOMPRESSED,
        }
    }

    /// The codec a column compressed with `compression` takes, if this crate compresses that way itself.
    pub(crate) fn of(compression: Compression) -> Option<Self> {
        match compression {
            Compression::SNAPPY => Some(Self::Snappy),
            Compression::ZSTD(level) => Some(Self::Zstd(level.compression_level())),
            Compression::UNCOMPRESSED => Some(Self::Uncompressed),
            _ => None,
        }
    }
}

/// The zstd levels: parsing refuses others.
const ZSTD_LEVELS: std::ops::RangeInclusive<i32> = 1..=22;

/// A zstd level within [`ZSTD_LEVELS`] (a level set in code outside them is taken as the nearest, alike for the
/// pages and for the sample the compression choice is made from).
fn zstd_level(level: i32) -> i32 {
    level.clamp(*ZSTD_LEVELS.start(), *ZSTD_LEVELS.end())
}

impl FromStr for Codec {
    type Err = String;

    /// `snappy`, `zstd` (level 1), `zstd:N` (N from 1 to 22) or `none`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, level) = match lower.split_once(':') {
            Some((name, level)) => (name, Some(level)),
            None => (lower.as_str(), None),
        };
        // The caller names the value: clap (`invalid value 'gzip' for '--compression'`) and the configuration.
        let refused = || "expected snappy, zstd, zstd:<1-22> or none".to_owned();
        match (name, level) {
            ("snappy", None) => Ok(Self::Snappy),
            ("none" | "uncompressed", None) => Ok(Self::Uncompressed),
            ("zstd", None) => Ok(Self::Zstd(ZSTD_DEFAULT_LEVEL)),
            ("zstd", Some(level)) => match level.parse::<i32>() {
                Ok(level) if ZSTD_LEVELS.contains(&level) => Ok(Self::Zstd(level)),
                _ => Err(refused()),
            },
            _ => Err(refused()),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Snappy => f.write_str("snappy"),
            Self::Zstd(level) => write!(f, "zstd:{level}"),
            Self::Uncompressed => f.write_str("none"),
        }
    }
}

/// A reusable compressor for one codec: a column's pages, or the sample the compression choice is made from.
pub(crate) enum Compressor {
    /// Boxed: the encoder holds its 2 KiB table inline.
    Snappy(Box<snap::raw::Encoder>),
    Zstd(zstd::bulk::Compressor<'static>),
    Uncompressed,
}

impl Compressor {
    pub(crate) fn new(codec: Codec) -> std::io::Result<Self> {
        Ok(match codec {
            Codec::Snappy => Self::Snappy(Box::new(snap::raw::Encoder::new())),
            Codec::Zstd(level) => Self::Zstd(zstd::bulk::Compressor::new(zstd_level(level))?),
            Codec::Uncompressed => Self::Uncompressed,
        })
    }

    /// `input` compressed into `scratch`, as Parquet's writer compresses a page with the same codec (the same
    /// bytes: snappy's raw format, or a zstd frame from a context reused at the same level); `None` when this
    /// compressor does not compress. `scratch` is kept from call to call: snappy's output goes into its bytes as
    /// they are (zeroed once, when it grows), zstd's after emptying it.
    pub(crate) fn compress<'s>(
        &mut self,
        input: &[u8],
        scratch: &'s mut Vec<u8>,
    ) -> std::io::Result<Option<&'s [u8]>> {
        match self {
            Self::Snappy(snappy) => {
                let most = snap::raw::max_compress_len(input.len());
                if scratch.len() < most {
                    scratch.resize(most, 0);
                }
                let n = snappy
                    .compress(input, scratch)
                    .map_err(std::io::Error::other)?;
                Ok(Some(&scratch[..n]))
            }
            Self::Zstd(zstd) => {
                scratch.clear();
                scratch.reserve(zstd::zstd_safe::compress_bound(input.len()));
                zstd.compress_to_buffer(input, scratch)?;
                Ok(Some(scratch.as_slice()))
            }
            Self::Uncompressed => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for (text, codec) in [
            ("snappy", Codec::Snappy),
            ("SNAPPY", Codec::Snappy),
            ("zstd", Codec::Zstd(1)),
            ("zstd:3", Codec::Zstd(3)),
            ("zstd:1", Codec::Zstd(1)),
            ("ZSTD:22", Codec::Zstd(22)),
            ("none", Codec::Uncompressed),
            ("uncompressed", Codec::Uncompressed),
        ] {
            assert_eq!(text.parse::<Codec>(), Ok(codec), "{text}");
            assert_eq!(codec.to_string().parse::<Codec>(), Ok(codec));
        }
        for bad in ["gzip", "zstd:0", "zstd:23", "zstd:x", "snappy:1", "", "lz4"] {
            let err = bad.parse::<Codec>().expect_err(bad);
            assert_eq!(err, "expected snappy, zstd, zstd:<1-22> or none", "{bad}");
        }
    }

    #[test]
    fn the_codec_maps_to_parquet_and_back() {
        for codec in [
            Codec::Snappy,
            Codec::Zstd(1),
            Codec::Zstd(9),
            Codec::Uncompressed,
        ] {
            assert_eq!(Codec::of(codec.parquet()), Some(codec));
        }
        assert_eq!(Codec::of(Compression::LZ4_RAW), None);
        // Set in code past the range: the nearest level.
        assert_eq!(Codec::Zstd(40).parquet(), Codec::Zstd(22).parquet());
        assert_eq!(Codec::Zstd(0).parquet(), Codec::Zstd(1).parquet());
    }

    #[test]
    fn pages_decompress_to_their_bytes() {
        let page: Vec<u8> = (0..100_000_u32)
            .flat_map(|i| (i % 977).to_le_bytes())
            .collect();
        // One scratch for both codecs and both pages, as an encoding thread keeps it.
        let mut scratch = Vec::new();
        for codec in [Codec::Snappy, Codec::Zstd(3), Codec::Snappy] {
            let mut compressor = Compressor::new(codec).expect("compressor");
            for page in [&page[..], &page[..40_000]] {
                let out = compressor
                    .compress(page, &mut scratch)
                    .expect("compressed")
                    .expect("a codec");
                let back = match codec {
                    Codec::Snappy => snap::raw::Decoder::new()
                        .decompress_vec(out)
                        .expect("snappy"),
                    _ => zstd::bulk::decompress(out, page.len()).expect("zstd"),
                };
                assert_eq!(back, page, "{codec}");
                assert!(out.len() < page.len() / 2, "{codec} shrinks it");
            }
        }
        let mut none = Compressor::new(Codec::Uncompressed).expect("compressor");
        assert!(
            none.compress(&page, &mut scratch)
                .expect("nothing")
                .is_none()
        );
    }
}
