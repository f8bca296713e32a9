//! Personal fields encrypted at rest: a customer's contact details (name,
//! phone, e-mail, birthday, addresses) are sealed with XChaCha20-Poly1305
//! before any store sees them. The associated data binds each ciphertext
//! to its customer and field, so a sealed phone cannot be pasted into
//! another customer or field; the key id in front of it lets keys rotate
//! (new writes use the current key, old ones still open).
//!
//! The nonce is derived from the key, customer, field and plaintext
//! (synthetic, as in SIV): sealing the same value twice gives the same
//! text, so an unchanged profile is not rewritten, and nonces never repeat
//! for different plaintexts.
//!
//! Keys come from `[crm] encryption_keys` (or `WAIMAI_CRM__ENCRYPTION_KEYS`):
//! `id:base64-of-32-bytes,...`, the first is current. Never from the repo.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::CrmError;

/// Sealed values start with this, then `<key id>:<base64>`.
pub const SEALED_PREFIX: &str = "enc1:";
const KEY_BYTES: usize = 32;

/// The keys personal fields are sealed and opened with.
#[derive(Clone)]
pub struct FieldCipher {
    current: String,
    keys: BTreeMap<String, [u8; KEY_BYTES]>,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys themselves.
        f.debug_struct("FieldCipher")
            .field("current", &self.current)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FieldCipher {
    /// Parses `id:base64,id:base64` (the first is current).
    pub fn from_spec(spec: &str) -> Result<Self, CrmError> {
        let bad = |reason: String| CrmError::BadField {
            field: "crm.encryption_keys".into(),
            reason,
        };
        let mut keys = BTreeMap::new();
        let mut current = None;
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part
                .split_once(':')
                .ok_or_else(|| bad("each key is id:base64".into()))?;
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(bad(format!("key id {id:?}: letters, digits, - and _")));
            }
            let raw = B64.decode(b64).map_err(|e| bad(format!("key {id}: {e}")))?;
            let key: [u8; KEY_BYTES] = raw
                .try_into()
                .map_err(|_| bad(format!("key {id}: must be {KEY_BYTES} bytes")))?;
            if keys.insert(id.to_string(), key).is_some() {
                return Err(bad(format!("key id {id} given twice")));
            }
            current.get_or_insert_with(|| id.to_string());
        }
        let current = current.ok_or_else(|| bad("no key given".into()))?;
        Ok(FieldCipher { current, keys })
    }

    /// A fresh key spec `id:base64` from the system's randomness (for a
    /// single machine's key file).
    pub fn generate_spec(id: &str) -> String {
        let mut key = [0u8; KEY_BYTES];
        rand::fill(&mut key);
        format!("{id}:{}", B64.encode(key))
    }

    /// The current key's id.
    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    fn aad(customer: &str, field: &str) -> Vec<u8> {
        [customer.as_bytes(), b"\0", field.as_bytes()].concat()
    }

    /// The current key (`current` always names one: `from_spec`).
    fn current_key(&self) -> &[u8; KEY_BYTES] {
        &self.keys[&self.current]
    }

    /// HMAC-SHA256 under the current key of `a`, a zero byte, and `b`.
    fn mac(&self, a: &[u8], b: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.current_key()).expect("HMAC takes any key length");
        mac.update(a);
        mac.update(b"\0");
        mac.update(b);
        mac.finalize().into_bytes().into()
    }

    /// Seals `plain` as `field` of `customer`.
    pub fn seal(&self, customer: &str, field: &str, plain: &str) -> String {
        let aad = Self::aad(customer, field);
        let tag = self.mac(&aad, plain.as_bytes());
        let nonce = XNonce::from_slice(&tag[..24]);
        let cipher = XChaCha20Poly1305::new(self.current_key().into());
        let sealed = cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{SEALED_PREFIX}{}:{}", self.current, B64.encode(out))
    }

    /// A keyed, one-way label for an index of personal data (the
    /// birthday lists): the store finds customers by it without learning
    /// the date. Always made with the current key.
    pub fn blind(&self, what: &str, value: &str) -> String {
        self.mac(what.as_bytes(), value.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Opens what [`FieldCipher::seal`] made for the same customer and field.
    pub fn open(&self, customer: &str, field: &str, text: &str) -> Result<String, CrmError> {
        let bad = |reason: &str| CrmError::BadField {
            field: format!("customer {customer} {field}"),
            reason: reason.into(),
        };
        let rest = text
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| bad("not sealed"))?;
        let (id, b64) = rest.split_once(':').ok_or_else(|| bad("no key id"))?;
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| bad("sealed with an unknown key id"))?;
        let raw = B64.decode(b64).map_err(|_| bad("not base64"))?;
        if raw.len() < 24 {
            return Err(bad("too short"));
        }
        let (nonce, sealed) = raw.split_at(24);
        let cipher = XChaCha20Poly1305::new(key.into());
        let aad = Self::aad(customer, field);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| bad("does not open: another customer's, another field's or damaged"))?;
        String::from_utf8(plain).map_err(|_| bad("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(spec: &str) -> FieldCipher {
        FieldCipher::from_spec(spec).unwrap()
    }

    #[test]
    fn sealed_fields_open_only_for_their_customer_and_field() {
        let c = cipher(&FieldCipher::generate_spec("k1"));
        let s = c.seal("c1", "phone", "13812345678");
        assert!(s.starts_with("enc1:k1:") && !s.contains("13812345678"));
        assert_eq!(c.open("c1", "phone", &s).unwrap(), "13812345678");
        assert!(c.open("c2", "phone", &s).is_err(), "bound to the customer");
        assert!(c.open("c1", "email", &s).is_err(), "bound to the field");
        let mut damaged = s.clone();
        damaged.pop();
        damaged.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(c.open("c1", "phone", &damaged).is_err());
        // Same value, same text (an unchanged profile is not rewritten);
        // another value, another nonce.
        assert_eq!(c.seal("c1", "phone", "13812345678"), s);
        assert_ne!(c.seal("c1", "phone", "13812345679")[..40], s[..40]);
    }

    #[test]
    fn rotation_reads_old_keys_and_writes_with_the_first() {
        let old = FieldCipher::generate_spec("k1");
        let new = FieldCipher::generate_spec("k2");
        let sealed_old = cipher(&old).seal("c1", "name", "Li Wei");
        let rotated = cipher(&format!("{new},{old}"));
        assert_eq!(rotated.open("c1", "name", &sealed_old).unwrap(), "Li Wei");
        assert!(rotated.seal("c1", "name", "Li Wei").starts_with("enc1:k2:"));
        assert!(
            cipher(&new).open("c1", "name", &sealed_old).is_err(),
            "k1 retired"
        );
    }

    #[test]
    fn bad_key_specs_are_refused() {
        for spec in ["", "k1", "k1:notbase64!", "k1:AAAA", "a b:AAAA"] {
            assert!(FieldCipher::from_spec(spec).is_err(), "{spec:?}");
        }
        let k = FieldCipher::generate_spec("k1");
        assert!(FieldCipher::from_spec(&format!("{k},{k}")).is_err(), "twice");
        assert!(!format!("{:?}", cipher(&k)).contains(&k[3..]), "Debug hides keys");
    }
}
