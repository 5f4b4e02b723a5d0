//! Short copies without a call to `memcpy`.

use std::ops::Range;

/// Appends `data[span]` to `out`. A span of at most `N` bytes with `N` bytes of `data` from its start is copied as
/// one block of `N` bytes, and the bytes after the span are then dropped: a copy of a fixed size is a few
/// instructions inline, where one of a length known only at run time is a call to `memcpy`, which was most of the
/// cost of appending a short string. Panics if `span` is not within `data`, as slicing does.
#[inline]
pub(crate) fn extend_from<const N: usize>(out: &mut Vec<u8>, data: &[u8], span: Range<usize>) {
    let len = span.len();
    match data.get(span.start..).and_then(<[u8]>::first_chunk::<N>) {
        Some(block) if len <= N => {
            let end = out.len();
            out.extend_from_slice(block);
            out.truncate(end + len);
        }
        _ => out.extend_from_slice(&data[span]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_span_of_every_length_is_appended_exactly() {
        let data: Vec<u8> = (0..40u8).collect();
        for start in 0..=data.len() {
            for end in start..=data.len() {
                let mut out = b"kept".to_vec();
                extend_from::<8>(&mut out, &data, start..end);
                assert_eq!(&out[..4], b"kept");
                assert_eq!(&out[4..], &data[start..end], "span {start}..{end}");
            }
        }
    }
}
