//! SHA-256 digests as lower-case hex, for content hashes and deterministic ids.

use sha2::{Digest, Sha256};

/// SHA-256 of `parts` fed in order, as hex, cut to the first `bytes` bytes of the digest (at most 32).
pub fn sha256_hex<I, P>(parts: I, bytes: usize) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut hasher = Hasher::default();
    for part in parts {
        hasher.update(part.as_ref());
    }
    hasher.finish_hex(bytes)
}

/// SHA-256 of input that arrives in pieces (a file read in chunks).
#[derive(Debug, Default, Clone)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as hex, cut to its first `bytes` bytes (at most 32).
    pub fn finish_hex(self, bytes: usize) -> String {
        hex(&self.0.finalize()[..bytes.min(32)])
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_known_answers() {
        assert_eq!(
            sha256_hex(["abc"], 32),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(["a", "bc"], 4),
            "ba7816bf",
            "parts are fed in order"
        );
        let mut h = Hasher::default();
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish_hex(40), sha256_hex(["abc"], 32));
        assert_eq!(hex(&[0, 0xff, 0x1a]), "00ff1a");
    }
}
