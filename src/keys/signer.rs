//! Keys held in memory (a key file, a key ring, a variable) as the token core's [`Signer`].

use jsonwebtoken::EncodingKey;

use super::Key;
use crate::error::{Error, Result};
use crate::token::{self, Algorithm, Signer, alg_name};

/// A loaded private key or HMAC secret, bound to the algorithm and `kid` it signs under.
pub struct KeySigner<'k> {
    key: &'k EncodingKey,
    alg: Algorithm,
    kid: Option<String>,
}

impl std::fmt::Debug for KeySigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySigner")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"(redacted)")
            .finish()
    }
}

impl Key {
    /// This key as a signer for `op` (a key error when it is public or retired, see
    /// [`Key::encoding`]), signing with `alg` under `kid`.
    pub fn signer(&self, op: &str, alg: Algorithm, kid: Option<String>) -> Result<KeySigner<'_>> {
        Ok(KeySigner {
            key: self.encoding(op)?,
            alg,
            kid,
        })
    }
}

impl KeySigner<'_> {
    /// The algorithm as jsonwebtoken names it (for records and output).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

impl Signer for KeySigner<'_> {
    fn alg(&self) -> &'static str {
        alg_name(self.alg)
    }

    fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>> {
        let failed = || {
            Error::key(format!(
                "signing with {:?} failed; check that the key is valid",
                self.alg
            ))
        };
        token::alg::sign(signing_input, self.key, self.alg).ok_or_else(failed)
    }
}
