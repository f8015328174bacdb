//! Keys held in memory (a key file, a key ring, a variable) as the token core's [`Signer`].

use jsonwebtoken::EncodingKey;

use super::Key;
use crate::error::{Error, Result};
use crate::token::{self, Algorithm, Signer, alg_name};

/// Where a key's signing half is: in memory, or in a PKCS#11 token.
pub enum Half<'k> {
    Memory(&'k EncodingKey),
    Token(&'k super::pkcs11::TokenKey),
}

/// A loaded private key or HMAC secret, or a key in a token, bound to the algorithm and `kid`
/// it signs under.
pub struct KeySigner<'k> {
    half: Half<'k>,
    key: &'k Key,
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
            half: self.encoding(op)?,
            key: self,
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
        match self.half {
            Half::Memory(key) => token::alg::sign(signing_input, key, self.alg).ok_or_else(failed),
            Half::Token(token) => {
                let signature = token.sign(self.alg, signing_input)?;
                // A token's signature is checked with the public half it was published with
                // before it leaves: a module that signs wrongly fails here, not at verifiers.
                let encoded = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    &signature,
                );
                if !token::alg::verify(
                    &encoded,
                    &signature,
                    signing_input,
                    self.key.decoding(),
                    self.alg,
                ) {
                    return Err(Error::key(format!(
                        "the token's {:?} signature does not verify with the key's public half; \
                         check that the public and private objects in the token belong together",
                        self.alg
                    )));
                }
                Ok(signature)
            }
        }
    }
}
