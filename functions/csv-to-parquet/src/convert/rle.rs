//! Parquet's RLE / bit-packing hybrid encoding, for dictionary keys and definition levels: runs of equal values
//! are RLE runs; the values between runs are bit-packed in groups of eight (the last group padded with zeros,
//! which a reader drops by the page's value count). A bit-packed run holds at most 504 values, so that
//! its header is one byte, as other writers keep it.

/// Values in a bit-packed run at most: 63 groups of eight.
const MAX_PACKED: usize = 504;

/// Appends `values`, each of `bit_width` bits (at most 32), to `out`. Runs are looked for a group of eight at a
/// time, as Parquet's own encoder does: a group of eight equal values starts an RLE run, which takes every equal
/// value after it.
pub(super) fn encode(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let mut literal = 0; // where the values not yet written start
    let mut i = 0;
    while i + 8 <= values.len() {
        let group = &values[i..i + 8];
        if group.iter().any(|&v| v != group[0]) {
            i += 8;
            continue;
        }
        let value = group[0];
        let mut end = i + 8;
        while end < values.len() && values[end] == value {
            end += 1;
        }
        pack(&values[literal..i], bit_width, out);
        repeat(value, end - i, bit_width, out);
        (literal, i) = (end, end);
    }
    pack(&values[literal..], bit_width, out);
}

/// `count` times `value`, as one RLE run.
pub(super) fn encode_run(value: u32, count: usize, bit_width: u8, out: &mut Vec<u8>) {
    if count > 0 {
        repeat(value, count, bit_width, out);
    }
}

/// Bit-packed runs of `values`, the last group padded to eight values.
fn pack(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let width = usize::from(bit_width);
    for run in values.chunks(MAX_PACKED) {
        let groups = run.len().div_ceil(8);
        uleb128(((groups as u64) << 1) | 1, out);
        out.reserve(groups * width);
        let mut chunks = run.chunks_exact(8);
        for group in &mut chunks {
            pack_group(group.try_into().unwrap_or([0; 8]), width, out);
        }
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let mut group = [0; 8];
            group[..tail.len()].copy_from_slice(tail);
            pack_group(group, width, out);
        }
    }
}

/// Eight values of `width` bits: `width` bytes.
#[inline]
fn pack_group(group: [u32; 8], width: usize, out: &mut Vec<u8>) {
    if width <= 16 {
        let mut bits = 0_u128;
        for (k, &v) in group.iter().enumerate() {
            bits |= u128::from(v) << (k * width);
        }
        out.extend_from_slice(&bits.to_le_bytes()[..width]);
    } else {
        // Two halves of four values: 4 × width bits each, a whole number of bytes only for an even width, so
        // the bits are carried across.
        let (mut bits, mut filled) = (0_u64, 0);
        for &v in &group {
            bits |= u64::from(v) << filled;
            filled += width;
            while filled >= 8 {
                out.push(bits as u8);
                bits >>= 8;
                filled -= 8;
            }
        }
    }
}

/// One RLE run: `count` times `value`, the value in whole bytes.
fn repeat(value: u32, count: usize, bit_width: u8, out: &mut Vec<u8>) {
    uleb128((count as u64) << 1, out);
    out.extend_from_slice(&value.to_le_bytes()[..usize::from(bit_width).div_ceil(8)]);
}

fn uleb128(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The bits a value up to `max` needs.
pub(super) fn bit_width(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `count` values back, as a reader does.
    fn decode(mut data: &[u8], bit_width: u8, count: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < count {
            let mut header = 0_u64;
            let mut shift = 0;
            loop {
                let byte = data[0];
                data = &data[1..];
                header |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            if header & 1 == 1 {
                let n = (header >> 1) as usize * 8;
                let bytes = n * usize::from(bit_width) / 8;
                let (packed, rest) = data.split_at(bytes);
                for k in 0..n {
                    let mut value = 0_u32;
                    for b in 0..usize::from(bit_width) {
                        let bit = k * usize::from(bit_width) + b;
                        value |= u32::from((packed[bit / 8] >> (bit % 8)) & 1) << b;
                    }
                    out.push(value);
                }
                data = rest;
            } else {
                let n = (header >> 1) as usize;
                let width = usize::from(bit_width).div_ceil(8);
                let mut bytes = [0_u8; 4];
                bytes[..width].copy_from_slice(&data[..width]);
                data = &data[width..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(bytes), n));
            }
        }
        assert!(data.is_empty(), "bytes left over after {count} values");
        out.truncate(count);
        out
    }

    #[test]
    fn values_come_back_for_runs_literals_and_every_width() {
        let mut seed = 7_u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for bit_width in [0_u8, 1, 2, 3, 7, 8, 9, 13, 16, 20, 31, 32] {
            let max = if bit_width == 32 {
                u32::MAX
            } else {
                (1_u32 << bit_width) - 1
            };
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 100, 503, 504, 505, 1200] {
                for run_every in [1_u32, 3, 9, 40] {
                    let mut values = Vec::with_capacity(len);
                    while values.len() < len {
                        let value = next() & max;
                        let repeat = (next() % run_every + 1) as usize;
                        values.extend(std::iter::repeat_n(value, repeat.min(len - values.len())));
                    }
                    let mut out = Vec::new();
                    encode(&values, bit_width, &mut out);
                    assert_eq!(
                        decode(&out, bit_width, len),
                        values,
                        "width {bit_width}, {len} values"
                    );
                }
            }
        }
    }

    #[test]
    fn long_runs_are_rle_runs() {
        // A group of eight equal values starts an RLE run, which takes the equal values after it: here 3 literals
        // and 5 of the run fill one packed group, the other 15 are one RLE run, and 2 literals a padded group.
        let mut values = vec![1, 2, 3];
        values.extend([4; 20]);
        values.extend([5, 6]);
        let mut out = Vec::new();
        encode(&values, 3, &mut out);
        assert_eq!(out.len(), 10);
        assert_eq!((out[0], out[4], out[5], out[6]), (0b11, 15 << 1, 4, 0b11));
        assert_eq!(decode(&out, 3, values.len()), values);
        // All one value: a single RLE run, as `encode_run` writes it; nothing at all: nothing.
        let mut out = Vec::new();
        encode(&[1; 20_000], 1, &mut out);
        assert_eq!(out, vec![0xc0, 0xb8, 0x02, 1]);
        let mut run = Vec::new();
        encode_run(1, 20_000, 1, &mut run);
        assert_eq!(run, out);
        let mut out = Vec::new();
        encode(&[], 4, &mut out);
        encode_run(3, 0, 4, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bit_width(0), 0);
        assert_eq!(bit_width(1), 1);
        assert_eq!(bit_width(255), 8);
        assert_eq!(bit_width(256), 9);
    }
}
