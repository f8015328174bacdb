//! SHA-256 as lowercase hex: the one digest jwtctl writes (token hashes in records, ledger ids).

/// Hex SHA-256 of `bytes`, as `sha256sum` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256Hex::of(bytes).as_str().to_owned()
}

/// The raw SHA-256 of `bytes`: the fixed-size key the ledger indexes an id by.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A hex SHA-256 held in place (no allocation): what a batch record carries per token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sha256Hex([u8; 64]);

impl Sha256Hex {
    pub fn of(bytes: &[u8]) -> Self {
        Self::of_digest(&aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            bytes,
        ))
    }

    fn of_digest(digest: &aws_lc_rs::digest::Digest) -> Self {
        // A table of each byte's two digits, not `write!("{:02x}")`: formatting was most of the
        // cost of a batch record.
        const PAIRS: [[u8; 2]; 256] = {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            let mut pairs = [[0u8; 2]; 256];
            let mut i = 0;
            while i < 256 {
                pairs[i] = [DIGITS[i >> 4], DIGITS[i & 0x0f]];
                i += 1;
            }
            pairs
        };
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.as_ref()) {
            pair.copy_from_slice(&PAIRS[usize::from(*byte)]);
        }
        Sha256Hex(hex)
    }

    /// Read 64 lowercase hex digits as a hash (as `as_str` writes it).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes: [u8; 64] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(Sha256Hex(bytes))
    }

    /// Hash bytes given piece by piece (a line too long to keep).
    pub fn stream() -> Sha256Stream {
        Sha256Stream(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and letters are ever written: this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A SHA-256 being computed; see [`Sha256Hex::stream`].
pub struct Sha256Stream(aws_lc_rs::digest::Context);

impl Sha256Stream {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Sha256Hex {
        Sha256Hex::of_digest(&self.0.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_sha256sum() {
        // printf %s abc | sha256sum
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_byte_is_written_as_format_writes_it() {
        for n in 0..512u32 {
            let input = n.to_le_bytes();
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &input);
            let want: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(Sha256Hex::of(&input).as_str(), want);
        }
    }
}
